"""Run the claims registry and write the verification report (report.md + report.json)."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cbn.figures.files import json_text, write_text_atomic
from cbn.theory.claims import Claim, run_claim

PACKAGES = ("cbn-toolkit", "numpy", "scipy", "torch", "cvxpy", "scs", "clarabel", "sympy",
            "matplotlib", "dask", "distributed")


def environment() -> dict:
    """Versions, interpreter, machine and compute device of this run."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    try:
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:  # torch is a dependency; this only guards a broken install
        device = "cpu"
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "device": device, "versions": versions,
            "seeds": "fixed inside each check function (see its source)"}


def run_checks(claims: Sequence[Claim], mode: str,
               progress: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """Run every claim's check in ``mode``; ``progress(i, n, id)`` is called before each."""
    records = []
    for i, claim in enumerate(claims):
        if progress:
            progress(i, len(claims), claim.id)
        records.append(run_claim(claim, mode))
    return records


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 6:
        return "[" + ", ".join(_fmt(v) for v in value[:6]) + ", ...]"
    return str(value)


def summary_line(records: list[dict]) -> str:
    """E.g. '40 of 42 claims pass; 2 findings (paper_notes/theory.md statements refuted, as
    recorded)'."""
    n_pass = sum(r["verdict"] == "PASS" for r in records)
    n_find = sum(r["verdict"] == "FINDING" for r in records)
    n_asserted = sum(r["expected"] == "pass" for r in records)
    bad = [r["id"] for r in records if not r["ok"]]
    line = f"{n_pass} of {n_asserted} asserted claims pass"
    if n_find:
        line += (f"; {n_find} finding(s): paper_notes/theory.md statements our numerics refute, "
                 "reproduced")
    if bad:
        line += f"; NOT OK: {', '.join(bad)}"
    return line


def markdown(records: list[dict], env: dict, mode: str) -> str:
    """The report as Markdown: summary, claims table, findings, every claim, environment."""
    lines = [f"# cbn-toolkit verification report ({mode} mode)", "",
             f"**{summary_line(records)}.** Every claim is listed with its numbers. A FINDING is "
             "a statement of paper_notes/theory.md that the numerics refute (the check is kept and "
             "must keep "
             "failing by the size pinned for it); FAIL, ERROR, UNEXPECTED PASS and FINDING "
             "CHANGED (a finding whose size left its pinned band: a new result) make the run "
             "fail.", "",
             "| claim | kind | predicted | measured | tolerance | verdict | time (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        verdict = r["verdict"] if r["ok"] else f"**{r['verdict']}**"
        lines.append(f"| `{r['id']}` | {r['kind']} | {_fmt(r['predicted'])} | "
                     f"{_fmt(r['measured'])} | {_fmt(r['tolerance'])} | {verdict} | "
                     f"{r['seconds']:.2f} |")
    findings = [r for r in records if r["expected"] == "fail"]
    if findings:
        lines += ["", "## Findings", ""]
        lines += [f"- `{r['id']}` ({r['verdict']}): {r['finding']}" for r in findings]
    lines += ["", "## Claims", ""]
    for r in records:
        lines += [f"### `{r['id']}` — {r['verdict']}", "",
                  f"- statement: {r['statement']}", f"- source: {r['source']}",
                  f"- criterion (fixed in advance): {r['criterion']}",
                  f"- details: `{json.dumps(r['details'], default=str)}`", ""]
    lines += ["## Environment", "", "```json", json.dumps(env, indent=2), "```", ""]
    return "\n".join(lines)


def write_report(records: list[dict], env: dict, mode: str, out: Path) -> tuple[Path, Path]:
    """Write report.json and report.md atomically into ``out``."""
    payload = {"mode": mode, "passed": all(r["ok"] for r in records),
               "summary": summary_line(records), "n_claims": len(records),
               "n_passed": sum(r["verdict"] == "PASS" for r in records),
               "n_findings": sum(r["verdict"] == "FINDING" for r in records),
               "environment": env, "claims": records}
    return (write_text_atomic(out / "report.json", json_text(payload)),
            write_text_atomic(out / "report.md", markdown(records, env, mode)))
