"""Registration: decorator, ``module:function``, ``path/to/file.py:function`` and the
``cbn.targets`` entry point of an installed package (issue 6, second item)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import numpy as np
import pytest

from cbn.numerics.inputs import InputError
from cbn.numerics.targets import (
    ENTRY_POINT_GROUP,
    Target,
    get_target,
    list_targets,
    register_target,
    validate_target,
)
from cbn.numerics.targets.base import REGISTRY

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cbn_example_targets"


@pytest.fixture
def clean_registry():
    """Restore the registry after a test registers targets."""
    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


@pytest.fixture
def installed_example(monkeypatch):
    """The fixture package on sys.path: importlib.metadata sees its dist-info entry point."""
    monkeypatch.syspath_prepend(str(FIXTURE))
    yield
    sys.modules.pop("cbn_example_targets", None)


class Doubler(Target):
    """Doubles its input."""

    name = "doubler_for_tests"
    spatial = (6,)

    def evaluate(self, X):
        return 2.0 * np.asarray(X)


def test_decorator_registers_classes_and_functions(clean_registry):
    register_target(Doubler)

    @register_target("tripler_for_tests")
    def tripler(spatial=(4,)):
        t = Doubler()
        t.spatial = tuple(spatial)
        return t

    assert {"doubler_for_tests", "tripler_for_tests"} <= set(list_targets())
    assert isinstance(get_target("doubler_for_tests"), Doubler)
    assert get_target("tripler_for_tests", spatial=(5,)).spatial == (5,)
    with pytest.raises(ValueError, match="already registered"):
        register_target("doubler_for_tests")(lambda: Doubler())


def test_named_builtin_with_parameters():
    assert get_target("lowpass", K=3).expected_cbn_rank() == 7  # {0, +-1, +-2, +-3}
    with pytest.raises(InputError, match="bad parameters"):
        get_target("lowpass", no_such_parameter=1)


def test_module_function_spec():
    t = get_target("cbn.numerics.targets.linear:laplacian")
    assert t.spatial == (8, 8)
    validate_target(t)


def test_python_file_spec(tmp_path, clean_registry):
    path = tmp_path / "my_targets.py"
    path.write_text(
        "import numpy as np\n"
        "from cbn.numerics.targets import Target\n"
        "class Square(Target):\n"
        "    '''Pixelwise square: equivariant, not linear.'''\n"
        "    name = 'square'\n"
        "    spatial = (5,)\n"
        "    def evaluate(self, X):\n"
        "        return np.asarray(X) ** 2\n"
        "instance = Square()\n"
    )
    t = get_target(f"{path}:Square")
    validate_target(t)
    assert t.description() == "Pixelwise square: equivariant, not linear."
    assert get_target(f"{path}:instance").name == "square"
    x = np.arange(5.0).reshape(1, 1, 5)
    assert np.array_equal(t.evaluate(x), x**2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_target", "unknown target 'no_such_target'"),
        ("missing_file.py:f", "target file not found"),
        ("cbn.numerics.targets.linear:no_such_function", "has no attribute 'no_such_function'"),
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("cbn.numerics.targets.linear:RANK_RTOL", "neither a target nor a factory"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(InputError, match=message):
        get_target(spec)


def test_file_that_fails_to_import(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(InputError, match="importing .*broken.py failed: RuntimeError: boom"):
        get_target(f"{path}:f")


def test_entry_point_target_is_listed_and_loads(installed_example):
    assert "example_moving_average" in list_targets()
    t = get_target("example_moving_average")
    validate_target(t)
    # Independent count: (1 + 2 cos(2 pi m / 10)) / 3 vanishes nowhere on Z_10.
    values = (1 + 2 * np.cos(2 * np.pi * np.arange(10) / 10)) / 3
    assert np.min(np.abs(values)) > 0.1
    assert t.expected_cbn_rank() == 10
    x = np.random.default_rng(0).standard_normal((2, 1, 10))
    want = (np.roll(x, 1, -1) + x + np.roll(x, -1, -1)) / 3
    assert np.allclose(t.evaluate(x), want, rtol=0, atol=1e-15)  # three float64 additions


def test_entry_point_absent_without_the_package():
    assert "example_moving_average" not in list_targets()


def test_fixture_is_a_real_installable_package():
    """The checked-in dist-info says what pip would write from the fixture's pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")  # standard library from Python 3.11
    project = tomllib.loads((FIXTURE / "pyproject.toml").read_text())
    declared = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    parser = ConfigParser()
    parser.optionxform = str  # keep names case-sensitive, as importlib.metadata does
    parser.read(FIXTURE / "cbn_example_targets-0.1.0.dist-info" / "entry_points.txt")
    assert dict(parser[ENTRY_POINT_GROUP]) == declared
    assert project["project"]["version"] == "0.1.0"


def test_pip_installed_package_registers_its_target(tmp_path):
    """The fixture really installs: pip (offline, no build isolation) into a folder, then a
    fresh interpreter with that folder on its path lists the target."""
    pytest.importorskip("setuptools")  # the fixture's build backend, needed offline
    source = tmp_path / "src"
    shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns("*.dist-info"))
    target_dir = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target_dir), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    code = ("from cbn.numerics.targets import list_targets, get_target;"
            "print('example_moving_average' in list_targets(),"
            " get_target('example_moving_average').expected_cbn_rank())")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(target_dir), str(root)])},
    )
    assert proc.stdout.split() == ["True", "10"], proc.stderr
