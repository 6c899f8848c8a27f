"""Resolve a target specification: a registered name, an entry point, ``module:function`` or
``path/to/file.py:function``.

Other packages ship targets through the ``cbn.targets`` entry-point group: in their
``pyproject.toml``::

    [project.entry-points."cbn.targets"]
    my_target = "my_package.targets:make_my_target"

The entry point's object is a factory: a :class:`~cbn.numerics.targets.base.Target` subclass, a
function returning a target, or a target instance.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from cbn.numerics.inputs import InputError
from cbn.numerics.targets.base import REGISTRY, Target

ENTRY_POINT_GROUP = "cbn.targets"


def entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed ``cbn.targets`` entry points by name (read afresh from ``sys.path``)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def list_targets() -> list[str]:
    """Names of every registered target: built-in, decorated, and from entry points."""
    return sorted(set(REGISTRY) | set(entry_points()))


def target_source(name: str) -> str:
    """Where a listed name comes from: ``'registered'`` or ``'entry point <value>'``."""
    if name in REGISTRY:
        return "registered"
    ep = entry_points().get(name)
    return f"entry point {ep.value}" if ep is not None else "unknown"


def _import_file(path: Path):
    if not path.exists():
        raise InputError(f"target file not found: {path}")
    module_name = f"cbn_user_targets_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file may raise anything: one line for the user
        del sys.modules[module_name]
        raise InputError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    return module


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError or anything the module raises on import
        raise InputError(f"cannot import module {name!r}: {type(exc).__name__}: {exc}") from None


def resolve_factory(spec: str) -> Callable[..., Target] | Target:
    """The factory (or instance) that ``spec`` names, without calling it."""
    if spec in REGISTRY:
        return REGISTRY[spec]
    eps = entry_points()
    if spec in eps:
        try:
            return eps[spec].load()
        except Exception as exc:  # a broken installed package: report, do not crash
            raise InputError(
                f"entry point {spec!r} ({eps[spec].value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from None
    if not is_attribute_spec(spec):
        raise InputError(
            f"unknown target {spec!r}: give a name listed by `cbn targets`, module:function "
            "or path/to/file.py:function"
        )
    return import_attribute(spec)


def is_attribute_spec(spec: str) -> bool:
    """True if ``spec`` has the form ``module:attribute`` or ``path/to/file.py:attribute``."""
    where, sep, attr = spec.rpartition(":")
    return bool(sep and where and attr)


def import_attribute(spec: str):
    """The object ``spec`` = ``module:attribute`` or ``path/to/file.py:attribute`` names.

    Raises :class:`InputError` (one line) if the import fails or the attribute is missing.
    """
    where, _, attr = spec.rpartition(":")
    module = _import_file(Path(where)) if where.endswith(".py") else _import_module(where)
    if not hasattr(module, attr):
        raise InputError(f"{where} has no attribute {attr!r}")
    return getattr(module, attr)


def get_target(spec: str, **params) -> Target:
    """The target named by ``spec``, built with keyword ``params``.

    Parameters
    ----------
    spec : a registered name (see :func:`list_targets`), a ``cbn.targets`` entry point,
        ``package.module:function`` or ``path/to/file.py:function`` (``function`` may be a
        :class:`Target` subclass, a function returning a target, or a target instance).
    params : keyword arguments of the factory (sizes, seeds, ...).

    Raises
    ------
    InputError
        Unknown name, import failure, bad parameters, or an object that is not a target.
    """
    factory = resolve_factory(spec)
    if isinstance(factory, Target) or (hasattr(factory, "evaluate") and not callable(factory)):
        if params:
            raise InputError(f"target {spec!r} is an instance: it takes no parameters")
        target = factory
    else:
        if not callable(factory):
            raise InputError(f"{spec!r} is neither a target nor a factory of targets")
        try:
            target = factory(**params)
        except (TypeError, ValueError) as exc:
            raise InputError(f"target {spec!r}: bad parameters {params}: {exc}") from None
    if not callable(getattr(target, "evaluate", None)):
        raise InputError(f"{spec!r} did not give a target (got {type(target).__name__})")
    if not getattr(target, "name", ""):
        target.name = spec
    return target
