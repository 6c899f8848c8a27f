"""Load a user's PyTorch model: ``module:function``, or a file written by ``torch.save``.

* ``module:function`` or ``path/to/file.py:function``: the function (or class) is called with
  no arguments and must return an ``nn.Module`` (an ``nn.Module`` instance is used as is).
* ``FILE`` (any suffix, e.g. ``.pt``): ``torch.save(model)`` (a full model: unpickled with
  ``weights_only=False``, which runs code of the classes it names, so load only files you
  trust; those classes must be importable) or ``torch.save(model.state_dict())`` together with
  ``arch = 'module:function'`` building the architecture the weights are loaded into (strictly:
  every key must match).

Every problem is an :class:`~cbn.numerics.inputs.InputError` with one line.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from cbn.numerics.inputs import InputError
from cbn.numerics.targets.loading import import_attribute, is_attribute_spec


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def build_from_spec(spec: str) -> nn.Module:
    """Call ``module:function`` (or take the module instance it names)."""
    where = spec.rpartition(":")[0]
    if where.endswith(".py") and not Path(where).exists():
        raise InputError(f"model file not found: {where}")
    obj = import_attribute(spec)
    if not isinstance(obj, nn.Module):
        if not callable(obj):
            raise InputError(f"{spec} is neither an nn.Module nor a function returning one")
        try:
            obj = obj()
        except Exception as exc:  # the user's code may raise anything
            raise InputError(f"calling {spec}() failed: {_first_line(exc)}") from None
    if not isinstance(obj, nn.Module):
        raise InputError(f"{spec}() returned {type(obj).__name__}, not an nn.Module")
    return obj


def _load_file(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # not weights only: a full pickled model
        pass
    except Exception as exc:  # not a torch file at all
        raise InputError(f"cannot read {path} with torch.load: {_first_line(exc)}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # e.g. the model's class is not importable
        raise InputError(f"cannot unpickle the model in {path}: {_first_line(exc)} (its "
                         "classes must be importable)") from None


def load_model(spec: str, arch: str | None = None) -> nn.Module:
    """The model ``spec`` names (see the module docstring), in eval mode.

    Parameters
    ----------
    spec : ``module:function``, ``file.py:function`` or a ``torch.save`` file
    arch : ``module:function`` building the architecture of a state-dict file
    """
    path = Path(spec)
    if not path.is_file():
        if not is_attribute_spec(spec):
            raise InputError(f"model not found: {spec} is no file and not module:function")
        if arch is not None:
            raise InputError("--arch is for state-dict files; MODEL is already "
                             "module:function")
        return build_from_spec(spec).eval()
    obj = _load_file(path)
    if isinstance(obj, nn.Module):
        if arch is not None:
            raise InputError(f"{path} holds a full model: drop --arch")
        return obj.eval()
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path} holds {type(obj).__name__}, neither an nn.Module nor a "
                         "state dict")
    if arch is None:
        raise InputError(f"{path} holds a state dict: give its architecture with "
                         "--arch module:function")
    model = build_from_spec(arch)
    try:
        model.load_state_dict(obj, strict=True)
    except Exception as exc:  # missing/unexpected keys, shape mismatches
        raise InputError(f"the state dict in {path} does not fit {arch}: "
                         f"{_first_line(exc)}") from None
    return model.eval()
