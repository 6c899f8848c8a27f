"""`cbn figures` / `cbn reproduce` plumbing: store reuse, report content, errors."""

from __future__ import annotations

import cbn.figures.commands.reproduce as reproduce_cmd
import cbn.figures.recipe_runner as runner
from cbn.figures.cli import main
from cbn.numerics.store import ResultStore
from cbn.theory.claims import select_claims


def test_unknown_figure_is_one_line_error(capsys):
    assert main(["figures", "no_such_figure", "--tiny"]) == 2
    err = capsys.readouterr().err
    assert "unknown figure" in err and err.count("\n") == 1


def test_recipe_is_served_from_store_second_time(tmp_path):
    store = ResultStore(tmp_path / "store")
    first = runner.run_recipe("linear_cost_depth", "tiny", tmp_path / "out", "cpu", store)
    second = runner.run_recipe("linear_cost_depth", "tiny", tmp_path / "out", "cpu", store)
    assert not first.from_store and second.from_store
    assert first.verdict == second.verdict
    assert (tmp_path / "out" / "linear_cost_depth.png").stat().st_size > 0


def test_reproduce_writes_report_with_figures_and_claims(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reproduce_cmd, "RECIPES", ("linear_cost_depth",))
    monkeypatch.setattr(reproduce_cmd, "all_claims", lambda: select_claims("fourier.*"))
    code = main(["reproduce", "--tiny", "--out", str(tmp_path / "rep"),
                 "--store", str(tmp_path / "store")])
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "linear_cost_depth" in report and "figures/linear_cost_depth.png" in report
    assert "`fourier.parseval`" in report and "Timings" in report
    prov = runner.recipe_module("linear_cost_depth").PROVENANCE
    assert prov.statement in report and prov.reconstruction in report
    assert code == 0
