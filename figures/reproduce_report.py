"""The reproduction report: claims table + every figure with its caption and verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cbn.figures.check_report import markdown as claims_markdown
from cbn.figures.check_report import summary_line
from cbn.figures.files import json_text, write_text_atomic
from cbn.figures.provenance import RECONSTRUCTION_NOTICE
from cbn.figures.recipe_runner import FigureResult


def figures_markdown(results: list[FigureResult], out_dir: Path) -> str:
    """Markdown section: what every figure is (:data:`RECONSTRUCTION_NOTICE`), then per figure
    its image, the statement it tests with the reconstruction note and unknowns
    (:class:`cbn.figures.provenance.Provenance`), caption, verdict, config and timing."""
    lines = ["## Figures", "", RECONSTRUCTION_NOTICE, ""]
    for r in results:
        mark = {True: "agrees with the theory", False: "**DISAGREES with the theory**",
                None: "not tested here: see the numbers"}[r.agrees]
        lines += [f"### {r.title} (`{r.name}`)", ""]
        for image in r.images:
            lines.append(f"![{r.name}]({os.path.relpath(image, out_dir)})")
        lines += ["", *r.provenance.markdown(), f"*What to see:* {r.caption}", "",
                  f"*Numbers:* {r.verdict} ({mark})", "",
                  f"*Time:* {r.seconds:.1f} s{' (from the result store)' if r.from_store else ''}",
                  "", "<details><summary>config</summary>", "", "```json",
                  json.dumps(r.config, indent=1), "```", "</details>", ""]
    return "\n".join(lines)


def write_reproduction_report(claims: list[dict], figures: list[FigureResult], env: dict,
                              mode: str, out_dir: Path, timings: dict) -> Path:
    """Write ``report.md`` (and ``report.json``) into ``out_dir`` atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n_fig = sum(f.agrees is not False for f in figures)
    head = [f"# cbn-toolkit reproduction ({mode} mode)", "",
            f"Claims: **{summary_line(claims)}**. Figures: **{n_fig}/{len(figures)}** agree "
            "with the theory or do not test it (an optimisation failure is not counted against "
            "the theory; the numbers say which).", "",
            "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), ""]
    text = "\n".join(head) + "\n" + figures_markdown(figures, out_dir) + "\n" + \
        claims_markdown(claims, env, mode).replace("# cbn-toolkit verification report", "# Claims")
    payload = {"mode": mode, "timings": timings, "environment": env, "claims": claims,
               "figures": [f.to_dict() for f in figures]}
    write_text_atomic(out_dir / "report.json", json_text(payload))
    return write_text_atomic(out_dir / "report.md", text)
