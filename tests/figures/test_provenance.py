"""Every figure declares what it tests relative to the papers, and the report prints it.

The statement must be a verbatim quote (whitespace aside) of the note it names under
``paper_notes/``: the papers' full texts were not available, so a statement found nowhere in the
notes would be an invented quote.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cbn.figures.recipe_runner as runner
from cbn.figures.provenance import NOTES_DIR, RECONSTRUCTION_NOTICE, Provenance
from cbn.figures.recipes import RECIPES
from cbn.figures.reproduce_report import figures_markdown

ROOT = Path(__file__).resolve().parents[2]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_declares_provenance(name):
    prov = getattr(runner.recipe_module(name), "PROVENANCE", None)
    assert isinstance(prov, Provenance), f"{name} has no PROVENANCE = Provenance(...)"
    note = ROOT / NOTES_DIR / prov.note
    assert note.is_file(), f"{name}: note {note} does not exist"
    assert prov.statement.strip() and _squash(prov.statement) in _squash(note.read_text()), \
        f"{name}: statement is not a verbatim quote of {NOTES_DIR}/{prov.note}"
    assert prov.source.strip() and prov.reconstruction.strip()
    assert isinstance(prov.unknowns, tuple) and prov.unknowns
    assert all(isinstance(u, str) and u.strip() for u in prov.unknowns)


def _result(name: str) -> runner.FigureResult:
    module = runner.recipe_module(name)
    return runner.FigureResult(name=name, title=module.TITLE, caption=module.CAPTION,
                               agrees=None, verdict="-", images=[], config={}, seconds=0.0,
                               from_store=True, provenance=module.PROVENANCE)


def test_report_names_statement_and_reconstruction_of_every_figure(tmp_path):
    text = figures_markdown([_result(name) for name in RECIPES], tmp_path)
    assert RECONSTRUCTION_NOTICE in text
    sections = text.split("\n### ")[1:]
    assert len(sections) == len(RECIPES)
    for name, section in zip(RECIPES, sections):
        prov = runner.recipe_module(name).PROVENANCE
        assert f"(`{name}`)" in section.splitlines()[0]
        assert f'"{prov.statement}"' in section and prov.source in section
        assert f"*Reconstruction:* {prov.reconstruction}" in section
        assert all(u in section for u in prov.unknowns)


def test_no_figure_is_called_a_reproduction_of_a_paper_figure():
    for name in RECIPES:
        module = runner.recipe_module(name)
        for text in (module.TITLE, module.CAPTION, module.PROVENANCE.reconstruction):
            assert not re.search(r"reproduc\w* (of )?(the )?(paper|figure)", text, re.I), name
