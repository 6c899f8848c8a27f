"""The search's values: SearchSettings (round trip, validation), Start, Status."""

from __future__ import annotations

import json

import pytest

from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.search import Architecture, SearchSettings, Start, Status
from cbn.numerics.search.fit import resolved


def test_settings_round_trip_through_json_is_exact():
    changed = SearchSettings(max_iter=7, tol=3e-11, history_size=5, init_scheme="orthogonal",
                             dtype="float32", restore=False, cg_ridge=0.0)
    for s in (SearchSettings(), changed):
        assert SearchSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_settings_defaults_are_todays_numbers():
    s = SearchSettings()
    assert (s.max_iter, s.tol, s.gtol, s.mu0) == (20000, 1e-10, 1e-10, 1e3)
    assert s.history_size is None and s.init_scheme is None and s.inner_iter is None
    assert s.residual_rtol == 1e-6
    assert (s.restore_max_constraints, s.restore_max_entries) == (4096, 2 * 10**7)


def test_per_network_defaults_are_resolved_by_activation():
    linear = resolved(SearchSettings(), Architecture.uniform(3, 4, activation="identity"))
    relu = resolved(SearchSettings(), Architecture.uniform(3, 4, activation="relu"))
    assert (linear.inner_iter, linear.history_size, linear.init_scheme) == (200, 20, "orthogonal")
    assert (relu.inner_iter, relu.history_size, relu.init_scheme) == (2000, 50, "gaussian")
    given = SearchSettings(inner_iter=300, history_size=7, init_scheme="orthogonal")
    assert resolved(given, Architecture.uniform(3, 4, activation="relu")) == given


def test_unknown_setting_lists_the_valid_keys():
    with pytest.raises(InputError, match="unknown search setting.*valid keys: max_iter"):
        SearchSettings.from_dict({"max_iters": 3})


@pytest.mark.parametrize("values, match", [
    ({"max_iter": 0}, "max_iter"), ({"max_iter": 2.5}, "integer"), ({"tol": -1.0}, "tol"),
    ({"restore": 1}, "true or false"), ({"dtype": "float16"}, "dtype"),
    ({"init_scheme": "xavier"}, "init_scheme"), ({"history_size": 0}, "history_size"),
    ({"inner_iter": 0}, "inner_iter"),
    ({"tol": float("nan")}, "finite"),
])
def test_bad_settings_are_one_line_input_errors(values, match):
    with pytest.raises(InputError, match=match) as info:
        SearchSettings.from_dict(values)
    assert "\n" not in str(info.value)


def test_start_values_and_validation():
    assert Start.random(3) == Start("random", seed=3) and Start(None).kind == "random"
    net = CircularCNN([1, 2, 1], (4,))
    given = Start.given(net, 2, kind="ladder")
    assert given.network is net and given.kind == "ladder" and given.seed == 2
    assert Start("construction", noise=0.03).noise == 0.03
    with pytest.raises(InputError, match="init must be one of"):
        Start("warm")
    with pytest.raises(InputError, match="init='random'"):
        Start("random", noise=0.1)
    with pytest.raises(InputError, match="start_noise"):
        Start("ladder", noise=-1.0)
    with pytest.raises(InputError, match="no network"):
        Start("random", network=net)


def test_status_values_are_the_message_prefixes():
    assert Status("infeasible start") is Status.INFEASIBLE_START
    assert str(Status.MAX_ITER) == "max_iter" and Status.CONVERGED == "converged"
