"""Linear user targets that do not say so are found linear, with exact multipliers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.numerics.linear import representation_cost
from cbn.numerics.targets import Target
from cbn.numerics.targets.detect import DetectedLinearTarget, detect_linear, with_detected_linearity


class Blur(Target):
    name, c_in, c_out, spatial, symmetry = "blur", 1, 1, (8,), "equivariant"

    def evaluate(self, X):
        return (np.roll(X, 1, -1) + 2 * X + np.roll(X, -1, -1)) / 4


class ReluBlur(Blur):
    def evaluate(self, X):
        return np.maximum(super().evaluate(X), 0)


class Flip(Blur):  # linear, not shift-equivariant
    def evaluate(self, X):
        return X[..., ::-1]


class AlmostLinear(Blur):  # a nonlinearity of relative size 1e-6 at unit scale
    def evaluate(self, X):
        return super().evaluate(X) + 1e-6 * X**2


class Mixing2D(Target):  # two channels on a 3x4 grid: channel 0 <- shifted channel 1, etc.
    name, c_in, c_out, spatial, symmetry = "mix2d", 2, 2, (3, 4), "equivariant"

    def evaluate(self, X):
        a, b = X[:, 0], X[:, 1]
        return np.stack([np.roll(b, 1, -1) - 0.5 * a, a + np.roll(b, (1, 2), (-2, -1))], 1)


def test_blur_multipliers_and_cost_by_hand():
    target = with_detected_linearity(Blur())
    assert isinstance(target, DetectedLinearTarget)
    m = np.arange(8)
    by_hand = (2 + 2 * np.cos(2 * np.pi * m / 8)) / 4  # A(m): zero only at m = 4
    np.testing.assert_allclose(target.linear_multipliers()[:, 0, 0], by_hand, atol=1e-15)
    assert target.expected_cbn_rank() == 7
    for L in (1, 2, 3, 5):
        exact = L * np.sum(np.abs(by_hand) ** (2 / L))
        assert representation_cost(target.linear_multipliers(), L) == pytest.approx(exact,
                                                                                    rel=1e-12)
    X = target.sample(3, 0)
    np.testing.assert_array_equal(target.evaluate(X), Blur().evaluate(X))  # the user's values


def test_multichannel_2d_operator_is_reproduced():
    target = with_detected_linearity(Mixing2D())
    X = np.random.default_rng(1).standard_normal((5, 2, 3, 4))
    Xm = np.fft.fftn(X, axes=(-2, -1))
    predicted = np.einsum("uvij,nj uv->niuv".replace(" ", ""), target.linear_multipliers(), Xm)
    np.testing.assert_allclose(np.fft.ifftn(predicted, axes=(-2, -1)).real,
                               Mixing2D().evaluate(X), atol=1e-13)  # FFT round-off, O(1) data


@pytest.mark.parametrize("cls", [ReluBlur, Flip, AlmostLinear])
def test_nonlinear_or_non_equivariant_targets_are_not_detected(cls):
    assert detect_linear(cls()) is None
    assert with_detected_linearity(cls()).__class__ is cls


def test_cbn_fit_and_analyze_report_a_user_file_blur_as_linear(tmp_path, monkeypatch, capsys):
    (tmp_path / "t.py").write_text(
        "import numpy as np\nfrom cbn.numerics.targets import Target\n\n"
        "class Blur(Target):\n    c_in, c_out, spatial, symmetry = 1, 1, (8,), 'equivariant'\n\n"
        "    def evaluate(self, X):\n"
        "        return (np.roll(X, 1, -1) + 2 * X + np.roll(X, -1, -1)) / 4\n")
    monkeypatch.chdir(tmp_path)
    args = ["t.py:Blur", "--depths", "2,3,4", "--seeds", "1", "--samples", "16", "--width",
            "2", "--workers", "1", "--quiet", "--json"]
    assert main(["fit", *args]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["linear_detected"] and s["activation"] == "identity"
    assert s["R0_exact"] == pytest.approx(7, abs=1e-9)
    np.testing.assert_allclose(s["norm"], s["exact"], rtol=1e-8)  # the search reaches it
    assert main(["analyze", *args, "--out", "report"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert a["linear_detected"] and a["R0_exact"] == pytest.approx(7, abs=1e-9)
    assert (tmp_path / "report" / "summary.json").is_file()
