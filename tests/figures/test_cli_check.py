"""`cbn check`: report files, JSON contract, exit status."""

from __future__ import annotations

import json

from cbn.figures.cli import main
from cbn.numerics.weights import Network


def test_check_quick_json_and_report(tmp_path, capsys):
    code = main(["check", "--quick", "--only", "fourier.*", "--json", "--out", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["passed"]
    ids = [c["id"] for c in out["claims"]]
    assert ids and all(i.startswith("fourier.") for i in ids)
    for rec in out["claims"]:
        for key in ("id", "passed", "predicted", "measured", "tolerance"):
            assert key in rec
    report = (tmp_path / "report.md").read_text()
    assert all(f"`{i}`" in report for i in ids)
    stored = json.loads((tmp_path / "report.json").read_text())
    assert stored["n_claims"] == len(ids) and "versions" in stored["environment"]


def test_failed_claim_gives_nonzero_exit_and_is_shown(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Network, "norm_sq", lambda self, include_bias=True: 0.0)
    code = main(["check", "--quick", "--only", "linear.closed_form", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 1 and "FAIL" in text
    assert "**FAIL**" in (tmp_path / "report.md").read_text()


def test_unknown_pattern_is_one_line_error(capsys):
    assert main(["check", "--only", "nope.*"]) == 2
    err = capsys.readouterr().err
    assert "no claim id matches" in err and err.count("\n") == 1


def test_recorded_finding_is_shown_and_does_not_fail_the_run(tmp_path, capsys):
    code = main(["check", "--quick", "--only", "dynamics.theory_rate_literal", "--json",
                 "--out", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    (rec,) = out["claims"]
    assert code == 0 and rec["passed"] is False and rec["verdict"] == "FINDING"
    report = (tmp_path / "report.md").read_text()
    assert "## Findings" in report and "sqrt(n)" in report
