"""What each figure tests, relative to the source papers: a typed declaration per recipe.

The papers' full texts and code were not available, only their abstracts (paper_notes/README.md).
No figure of the toolkit reproduces a figure of [WJ24], [J23] or [PLG23]: each recipe is the
toolkit's own experiment that tests one statement, quoted from the abstract summaries or from
the project's formulation in ``paper_notes/`` (which cite paper_notes/theory.md), with its own
targets,
sizes and hyper-parameters. Every recipe module declares a :class:`Provenance` as
``PROVENANCE``; the reproduction report prints it next to the figure.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Folder (relative to the repository root) that holds the notes the statements are quoted from.
NOTES_DIR = "paper_notes"

#: What every figure is, said once in the report and in the README.
RECONSTRUCTION_NOTICE = (
    "Every figure is this toolkit's own experiment, not a reproduction of a figure of [WJ24], "
    "[J23] or [PLG23]: only the papers' abstracts were available, so each recipe tests one "
    "statement (quoted below from the abstract summaries or from the project's formulation in "
    "paper_notes/) with targets, sizes, protocols and hyper-parameters chosen here; what is "
    "unknown about the original experiments is listed per figure.")


@dataclass(frozen=True)
class Provenance:
    """The statement a figure tests and how far its setup is the toolkit's own.

    Attributes
    ----------
    statement : the tested statement, verbatim from ``paper_notes/<note>`` (whitespace aside)
    source : who states it, e.g. ``"[WJ24] abstract (summary in the note)"`` or
    ``"paper_notes/theory.md section 3
        (this project's derivation)"``
    note : file name under ``paper_notes/`` that holds ``statement``
    reconstruction : what the recipe chose itself (target, sizes, protocol) and why it tests
        the statement
    unknowns : what is not known about the original experiment (hyper-parameters,
        normalisation, architecture, data), one item each
    """

    statement: str
    source: str
    note: str
    reconstruction: str
    unknowns: tuple[str, ...]

    def markdown(self) -> list[str]:
        """Report lines: statement with its source, reconstruction note, unknowns."""
        return [f"*Statement tested* ({self.source}; quoted from `{NOTES_DIR}/{self.note}`): "
                f"\"{self.statement}\"", "",
                f"*Reconstruction:* {self.reconstruction}", "",
                "*Unknown about the original:* " + "; ".join(self.unknowns) + ".", ""]
