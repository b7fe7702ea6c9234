"""The peers: torchattacks' BIM and PGD, adv_lib's ALMA prox, loaded if installed, skipped otherwise.

Neither is a dependency of ``uwl_utils``; ``make bench`` installs them into ``.venv`` (``--no-deps``, see the
``bench`` extra of pyproject.toml). A peer that cannot be imported comes back as a :class:`Peer` with
``attack=None`` and the reason, and the benchmark reports it as skipped.

- torchattacks takes labels in [0, C) for ``nn.CrossEntropyLoss``, whose ignore label is −100: the ignore
  label 255 is mapped to −100 (:func:`torchattacks_labels`). Its mean over the valid pixels of the batch differs
  from our per-image sum / (H·W) by a positive factor per image, so the signed gradient steps are the same.
- adv_lib's package ``__init__`` imports every attack and, through ``distances.lpips``, torchvision (whose PyPI
  wheel is a CUDA build that does not load beside the CPU torch). :func:`load_adv_lib_alma_prox` therefore
  registers ``adv_lib`` as a bare namespace (its ``__init__`` not run) and executes
  ``adv_lib/attacks/segmentation/alma_prox.py`` directly; that module needs only ``adv_lib.utils`` (torch)
  and visdom. Its prox is decorated with ``torch.compile``: the first call compiles (tens of seconds on a CPU,
  cached by inductor afterwards), which the benchmark times separately from the attack.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from uwl_utils.checks import IGNORE_INDEX

__all__ = ["Peer", "load_torchattacks", "load_adv_lib_alma_prox", "torchattacks_labels", "load_peers"]

TORCH_IGNORE_INDEX = -100  # nn.CrossEntropyLoss's default ignore_index


@dataclass
class Peer:
    """A peer implementation: ``attack`` is None when it is unavailable, with the reason in ``reason``."""

    name: str
    package: str
    version: str | None = None
    attack: Callable[..., torch.Tensor] | None = None
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.attack is not None

    def as_record(self) -> dict[str, object]:
        return {
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "available": self.available,
            "reason": self.reason,
        }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _missing(name: str, package: str, exc: BaseException) -> Peer:
    hint = "run `make bench` (it installs the peers) or pip install it into .venv"
    return Peer(name, package, _version(package), None, f"{package} unavailable ({type(exc).__name__}: {exc}); {hint}")


def torchattacks_labels(labels: torch.Tensor) -> torch.Tensor:
    """Our labels with the ignore label 255 replaced by −100, the ignore index of torch's cross-entropy."""
    return labels.masked_fill(labels == IGNORE_INDEX, TORCH_IGNORE_INDEX)


def load_torchattacks(kind: str) -> Peer:
    """torchattacks' ``BIM`` (I-FGSM) or ``PGD`` as ``attack(model, images, labels, eps, alpha, steps)``."""
    name = {"BIM": "torchattacks.BIM", "PGD": "torchattacks.PGD"}[kind]
    try:
        ta = importlib.import_module("torchattacks")
    except Exception as exc:  # ImportError, or a broken install
        return _missing(name, "torchattacks", exc)

    def attack(model, images, labels, *, eps: float, alpha: float, steps: int) -> torch.Tensor:
        if kind == "BIM":
            atk = ta.BIM(model, eps=eps, alpha=alpha, steps=steps)
        else:  # our pgd starts at the clean image (random_init=False), so the peer does too
            atk = ta.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)
        return atk(images, torchattacks_labels(labels))

    return Peer(name, "torchattacks", _version("torchattacks"), attack)


def _adv_lib_root() -> Path:
    spec = importlib.util.find_spec("adv_lib")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'adv_lib'")
    return Path(list(spec.submodule_search_locations)[0])


def load_adv_lib_alma_prox(eager: bool = False) -> Peer:
    """adv_lib's ``alma_prox(model, inputs, labels, num_steps=…, …)``, loaded without adv_lib's ``__init__``.

    ``eager=True`` strips the ``torch.compile`` of its prox (for machines where inductor cannot compile).
    """
    name = "adv_lib.alma_prox"
    module_name = "adv_lib.attacks.segmentation.alma_prox"
    try:
        if module_name in sys.modules:
            module = sys.modules[module_name]
        else:
            root = _adv_lib_root()
            if "adv_lib" not in sys.modules:
                package = types.ModuleType("adv_lib")
                package.__path__ = [str(root)]
                # a spec, so that a later find_spec("adv_lib") answers instead of raising
                package.__spec__ = importlib.machinery.ModuleSpec("adv_lib", None, is_package=True)
                package.__spec__.submodule_search_locations = [str(root)]
                sys.modules["adv_lib"] = package
            importlib.import_module("adv_lib.utils.losses")
            importlib.import_module("adv_lib.utils.visdom_logger")  # imports visdom
            spec = importlib.util.spec_from_file_location(module_name, root / "attacks/segmentation/alma_prox.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[module_name] = module
    except Exception as exc:
        return _missing(name, "adv-lib", exc)
    prox = module.prox_linf_indicator
    if eager:
        prox = getattr(prox, "_torchdynamo_orig_callable", prox)

    def attack(model, images, labels, **kwargs) -> torch.Tensor:
        original = module.prox_linf_indicator
        module.prox_linf_indicator = prox
        try:
            return module.alma_prox(model, images, labels, **kwargs)
        finally:
            module.prox_linf_indicator = original

    return Peer(name, "adv-lib", _version("adv-lib"), attack)


def load_peers(adv_lib_eager: bool = False) -> dict[str, Peer]:
    """{"BIM": …, "PGD": …, "alma_prox": …}, each available or with the reason it is not."""
    return {
        "BIM": load_torchattacks("BIM"),
        "PGD": load_torchattacks("PGD"),
        "alma_prox": load_adv_lib_alma_prox(eager=adv_lib_eager),
    }
