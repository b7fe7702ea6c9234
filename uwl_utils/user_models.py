"""A user's own models by name, beside the registered ones: ``load_model("mine/unet")`` then works everywhere.

Entries come from a registry file or a Python module (see :func:`register_spec`)::

    # my_models.yaml: paths are taken from the file's folder
    models:
      mine/unet:      {loader: smp, arch: Unet, encoder_name: resnet18, classes: cityscapes, checkpoint: unet.pth}
      mine/segformer: {loader: segformer, config: segformer.json, classes: cityscapes}
      mine/mmseg:     {loader: mmseg, config: my_config.py, checkpoint: my.pth, classes: cityscapes}
      mine/custom:    {loader: "my_package.models:build", width: 32}   # any function returning a module

    # my_models.py (or an importable module): UWL_MODELS = {"mine/custom": build}  (or name -> entry mapping)

``loader`` is ``smp``, ``segformer`` or ``mmseg`` (:mod:`uwl_utils.loaders`) or a factory reference
``package.module:function`` / ``path/to/file.py:function``; the other keys are its keyword arguments. A factory
may return a module wrapped with :func:`uwl_utils.adapters.wrap` or a plain one whose forward already maps
[0, 1] RGB to logits; the latter is wrapped as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from uwl_utils.adapters import WrappedModel, wrap

__all__ = [
    "USER_MODELS",
    "UserModel",
    "anchor_spec",
    "register_model",
    "register_spec",
    "import_factory",
    "build_user_model",
]

_PATH_KEYS = ("config", "checkpoint")  # entry values taken relative to the registry file's folder


@dataclass(frozen=True)
class UserModel:
    """One user entry: a factory and its keyword arguments; ``source`` says where it was registered."""

    name: str
    factory: Callable[..., nn.Module]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


USER_MODELS: dict[str, UserModel] = {}


def import_factory(ref: str, base: Path | None = None) -> Callable[..., nn.Module]:
    """The function named by ``package.module:function`` or ``path/to/file.py:function`` (a relative file
    is taken from ``base``, default the working directory)."""
    module_ref, sep, attr = ref.rpartition(":")
    if not sep or not module_ref or not attr:
        raise ValueError(f"factory {ref!r} must read 'package.module:function' or 'path/to/file.py:function'")
    if module_ref.endswith(".py"):
        module = _import_file(Path(module_ref) if base is None else base / module_ref)
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as err:
            raise ValueError(f"cannot import {module_ref!r} for factory {ref!r} ({err}); is it on PYTHONPATH?") from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"{module_ref} has no function {attr!r} (factory {ref!r})")
    return factory


def _import_file(path: Path) -> Any:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"Python file {path} not found")
    name = f"uwl_user_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _factory(loader: str | Callable[..., nn.Module], base: Path | None) -> Callable[..., nn.Module]:
    if callable(loader):
        return loader
    from uwl_utils import loaders

    builtin = {"smp": loaders.smp_model, "segformer": loaders.segformer_model, "mmseg": loaders.mmseg_model}
    return builtin[loader] if loader in builtin else import_factory(loader, base)


def _add(name: str, factory: Callable[..., nn.Module], kwargs: Mapping[str, Any], source: str) -> str:
    from uwl_utils.models import MODELS

    if not isinstance(name, str) or not name:
        raise ValueError(f"a model name must be a non-empty string, got {name!r}")
    if name in MODELS:
        raise ValueError(f"{name!r} is a registered model of the package; give your model another name")
    USER_MODELS[name] = UserModel(name, factory, dict(kwargs), source)
    return name


def register_model(name: str, factory: str | Callable[..., nn.Module], source: str = "", **kwargs: Any) -> str:
    """Register ``name`` -> ``factory(**kwargs)`` (a loader name, a factory reference or a function)."""
    return _add(name, _factory(factory, None), kwargs, source)


def _register_entries(entries: Mapping[str, Any], base: Path | None, source: str) -> list[str]:
    names = []
    for name, entry in entries.items():
        if callable(entry):
            names.append(_add(name, entry, {}, source))
            continue
        if not isinstance(entry, Mapping) or "loader" not in entry:
            raise ValueError(f"{source}: entry {name!r} must be a mapping with a `loader:` (smp, segformer, mmseg, "
                             f"or 'package.module:function'), got {entry!r}")  # fmt: skip
        kwargs = {k: v for k, v in entry.items() if k != "loader"}
        if base is not None:
            kwargs.update({k: str(base / v) for k, v in kwargs.items() if k in _PATH_KEYS and isinstance(v, str)})
        names.append(_add(name, _factory(entry["loader"], base), kwargs, source))
    return names


def anchor_spec(spec: str, base: Path) -> tuple[str, Path | None]:
    """(``spec`` with a relative registry / Python file taken from ``base``, that file or None for a module)."""
    target, sep, attr = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if not target.endswith((".py", ".yaml", ".yml")):
        return spec, None
    path = (base / Path(target).expanduser()).resolve()
    return f"{path}{sep}{attr}", path


def register_spec(spec: str | Path) -> list[str]:
    """Register the models ``spec`` names and return their names (the notebooks' ``MODEL_SPEC``).

    ``spec`` is a registry file (``.yaml``/``.yml``: a ``models:`` mapping), a Python file or module defining
    ``UWL_MODELS`` (name -> factory or entry), or one factory ``package.module:function`` /
    ``file.py:function``, registered under the spec itself as its name.
    """
    text = str(spec)
    if text.endswith((".yaml", ".yml")):
        path = Path(text).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"model registry {path} not found")
        content = yaml.safe_load(path.read_text()) or {}
        if not isinstance(content, Mapping) or not isinstance(content.get("models"), Mapping):
            raise ValueError(f"model registry {path} must hold `models:` mapping names to entries")
        return _register_entries(content["models"], path.parent, str(path))
    if ":" in text:
        return [register_model(text, import_factory(text), text)]
    if text.endswith(".py"):
        module = _import_file(Path(text))
    else:
        try:
            module = importlib.import_module(text)
        except ImportError as err:
            raise ValueError(f"MODEL_SPEC {text!r} is no registry file and cannot be imported ({err})") from err
    entries = getattr(module, "UWL_MODELS", None)
    if not isinstance(entries, Mapping):
        raise ValueError(f"{text} defines no UWL_MODELS mapping (model name -> factory or entry)")
    base = Path(module.__file__).parent if getattr(module, "__file__", None) else None
    return _register_entries(entries, base, text)


def build_user_model(name: str, device: str | torch.device = "cpu") -> WrappedModel:
    """Build the user entry ``name`` on ``device``, wrapped, in eval mode with frozen weights."""
    entry = USER_MODELS[name]
    model = entry.factory(**entry.kwargs)
    if not isinstance(model, nn.Module):
        raise TypeError(f"the factory of {name!r} ({entry.source}) returned {type(model).__name__}, not a module")
    from uwl_utils.models import SegmentationModel

    if not isinstance(model, WrappedModel | SegmentationModel):
        model = wrap(model, name=name)
    model.name = name
    return model.requires_grad_(False).to(device)
