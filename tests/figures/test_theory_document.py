"""paper_notes/theory.md: the specification the code cites, its sections and its claim ids."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from cbn.figures.paper_notes import NOTE_SOURCES, update_notes
from cbn.theory.claims import all_claims

ROOT = Path(__file__).resolve().parents[2]
THEORY = ROOT / "paper_notes" / "theory.md"
SECTIONS = {1: "Signals, circular convolutions, frequencies",
            2: "Networks and the representation cost",
            3: "Linear CNNs: exact results",
            4: "ReLU CNNs: bounds and structure",
            5: "Shallow ReLU networks: convex programs",
            6: "Linear CNN learning dynamics ([PLG23], Saxe et al.)",
            7: "Numerical practice"}
#: "paper_notes/theory.md section 4", "... sections 3-4", "... sections 3, 5 and 7"
REFERENCE = re.compile(r"paper_notes/theory\.md\s+sections?\s+(\d+(?:(?:-|,\s*|\s+and\s+)\d+)*)")
AREAS = sorted({c.id.split(".")[0] for c in all_claims()})
CLAIM_ID = re.compile(rf"\b(?:{'|'.join(AREAS)})\.[a-z0-9_]+\b")


def _sections() -> dict[int, str]:
    return {int(m.group(1)): m.group(2)
            for m in re.finditer(r"^## (\d+)\. (.+)$", THEORY.read_text(), re.MULTILINE)}


def _sources() -> list[Path]:
    skip = {".git", ".venv", "__pycache__"}
    return [p for p in sorted(ROOT.rglob("*"))
            if p.is_file() and (p.suffix in (".py", ".md") or p.name == "pyproject.toml")
            and p != THEORY and not skip & set(p.relative_to(ROOT).parts)]


def test_sections_are_numbered_and_titled_as_cited():
    assert _sections() == SECTIONS


def test_every_reference_in_the_code_names_an_existing_section():
    bad = []
    for path in _sources():
        for m in REFERENCE.finditer(path.read_text(encoding="utf-8", errors="replace")):
            numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
            if not numbers or any(n not in SECTIONS for n in numbers):
                bad.append(f"{path.relative_to(ROOT)}: {m.group(0)!r}")
    assert not bad, bad


def test_every_claim_is_named_and_every_named_claim_exists():
    text = THEORY.read_text()
    registered = {c.id for c in all_claims()}
    named = set(CLAIM_ID.findall(text))
    assert named <= registered, sorted(named - registered)
    assert registered <= named, sorted(registered - named)
    flat = " ".join(text.split()).replace("**", "")
    for claim in all_claims():
        if claim.expected == "fail":  # a refuted statement is marked as such
            assert re.search(rf"\[does not hold[^\]]*{re.escape(claim.id)}\]", flat), claim.id

def test_cbn_notes_never_writes_the_theory_document(tmp_path):
    folder = tmp_path / "notes"
    shutil.copytree(ROOT / "paper_notes", folder)
    before = (folder / "theory.md").read_text()
    claim = next(c for c in all_claims() if c.id == "fourier.parseval")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"mode": "quick", "environment": {}, "claims": [
        {"id": claim.id, "statement": claim.statement, "criterion": claim.criterion,
         "measured": 1e-16, "verdict": "PASS", "source": claim.source}]}))
    update_notes(report, folder)
    assert "theory.md" not in NOTE_SOURCES
    assert (folder / "theory.md").read_text() == before
