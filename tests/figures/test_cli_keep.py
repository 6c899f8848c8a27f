"""`cbn keep`: the rising weight-decay path from the command line (JSON, table, files, errors)."""

from __future__ import annotations

import json

import pytest

from cbn.figures.cli import main

#: A small shape x pattern run: 3 stages of 40 L-BFGS iterations (a few seconds).
SMALL = ["shape_pattern_ae", "--param", "spatial=[16]", "--param", "K=1", "--param", "T=4",
         "--samples", "16", "--depth", "4", "--width", "3", "--stages", "3",
         "--stage-iter", "40", "--lam-min", "1e-4", "--lam-max", "1e-2"]


def test_json_and_out_folder(tmp_path, capsys):
    out = tmp_path / "keep"
    assert main(["keep", *SMALL, "--json", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == "shape_pattern_ae" and report["spatial"] == [16]
    assert [s["lam"] for s in report["stages"]] == pytest.approx([1e-4, 1e-3, 1e-2],
                                                                  rel=1e-12)
    for s in report["stages"]:
        assert len(s["kept_total"]) == 4 and len(s["counts"]) == 4
        assert all(len(c) == 16 for c in s["counts"])
        assert s["residual_rel"] >= 0 and s["norm_sq"] >= 0
    assert report["bound"].startswith("norm_sq: upper bound")
    assert json.loads((out / "keep.json").read_text()) == report
    assert (out / "kept_path.png").stat().st_size > 1000


def test_table_says_the_norms_are_upper_bounds(capsys):
    assert main(["keep", *SMALL]) == 0
    text = capsys.readouterr().out
    assert "UPPER bounds" in text and "m=0 constant" in text


@pytest.mark.parametrize("args, needle", [
    (["--lam-min", "0"], "need 0 < lam_min"),
    (["--rel", "1.5"], "rel must be in (0, 1)"),
    (["--depth", "0"], "--depth must be >= 1"),
    (["--samples", "0"], "--samples must be >= 1"),
])
def test_bad_input_one_line_and_nothing_written(tmp_path, capsys, args, needle):
    out = tmp_path / "never"
    code = main(["keep", *SMALL, *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_pooled_target_is_refused(capsys):
    assert main(["keep", "pooling_classifier"]) == 2
    assert "per-pixel outputs" in capsys.readouterr().err
