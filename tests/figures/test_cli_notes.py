"""``cbn notes``: the measured sections of paper_notes/ come from a cbn check report."""

from __future__ import annotations

import shutil
from pathlib import Path

from cbn.figures.cli import main
from cbn.figures.paper_notes import BEGIN, END, NOTE_SOURCES, notes_of
from cbn.theory.claims import all_claims

NOTES = Path(__file__).resolve().parents[2] / "paper_notes"


def _prose(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    return head + rest.split(END, 1)[1]


def test_notes_regenerated_from_a_real_report(tmp_path, capsys):
    report = tmp_path / "check"
    assert main(["check", "--quick", "--only", "fourier.*", "--out", str(report)]) == 0
    folder = tmp_path / "notes"
    shutil.copytree(NOTES, folder)
    before = {p.name: p.read_text() for p in folder.glob("*.md")}
    capsys.readouterr()
    assert main(["notes", str(report / "report.json"), "--folder", str(folder)]) == 0
    fourier = [c for c in all_claims() if c.id.startswith("fourier.")]
    for note in NOTE_SOURCES:
        text = (folder / note).read_text()
        assert _prose(text) == _prose(before[note])  # the hand-written prose is kept
        section = text.split(BEGIN, 1)[1].split(END, 1)[0]
        listed = {c.id for c in fourier if f"| `{c.id}` |" in section}
        assert listed == {c.id for c in fourier if note in notes_of(c.source)}
        assert "quick mode" in section
    again = {p.name: p.read_text() for p in folder.glob("*.md")}
    assert main(["notes", str(report / "report.json"), "--folder", str(folder)]) == 0
    assert {p.name: p.read_text() for p in folder.glob("*.md")} == again  # idempotent


def test_not_a_report_is_one_line_exit_2_and_changes_nothing(tmp_path, capsys):
    folder = tmp_path / "notes"
    shutil.copytree(NOTES, folder)
    before = {p.name: p.read_text() for p in folder.glob("*.md")}
    (tmp_path / "bad.json").write_text('{"claims": 3}')
    assert main(["notes", str(tmp_path / "bad.json"), "--folder", str(folder)]) == 2
    assert "is not a report.json of cbn check" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in folder.glob("*.md")} == before


def test_the_repositorys_notes_list_every_registered_claim():
    sections = "".join(p.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
                       for p in NOTES.glob("*.md") if BEGIN in p.read_text())
    missing = [c.id for c in all_claims() if f"| `{c.id}` |" not in sections]
    assert not missing, f"regenerate paper_notes with cbn notes (missing: {missing})"
