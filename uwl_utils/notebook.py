"""The first cells of every notebook: resolve a profile and the parameters, and stop early on bad ones.

A notebook keeps its two profiles side by side (``quick``: the committed default, sized for a CPU demo;
``paper``: the paper's settings for a GPU) and calls :func:`setup` with its papermill parameters. A
parameter left at ``None`` takes the profile's value. Bad parameters raise a ``ValueError`` in that cell,
saying what to change. ``MODEL_SPEC`` brings a user's own models in (:func:`resolve_model`,
:mod:`uwl_utils.user_models`); their output channels are checked against the data set's classes in
:func:`setup`, before any work.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch

from uwl_utils.attacks import ATTACKS
from uwl_utils.experiment import AttackConfig, resolve_device
from uwl_utils.metrics import apsr
from uwl_utils.models import REPO_ROOT
from uwl_utils.user_models import anchor_spec, register_spec
from uwl_utils.viz import show_segmentations

__all__ = [
    "Setup",
    "setup",
    "notebook_dir",
    "output_dir",
    "as_list",
    "default_models",
    "check_model_classes",
    "resolve_model",
    "compare_attack",
    "attack_configs",
    "attacks_caption",
    "weighting_runtimes",
    "REAL_DATASETS",
]

REAL_DATASETS = ("cityscapes", "voc")
NOTEBOOKS = REPO_ROOT / "notebooks"  # the numbered notebooks of the repository
FIGURE_DPI = 80  # inline figures: readable, and the executed notebooks stay small in the repository
# Set, these replace the notebooks' OUT_DIR / RESULTS_DIR: the tests run the notebooks into a fresh folder
ENV_OUT_DIR, ENV_RESULTS_DIR = "UWL_OUT_DIR", "UWL_RESULTS_DIR"


@dataclass
class Setup:
    """Resolved notebook parameters; ``knobs`` holds the profile's notebook-specific values."""

    profile: str
    device: torch.device
    dataset: str
    models: list[str]
    n_images: int
    image_size: tuple[int, int] | None
    batch_size: int
    data_root: str | None
    out_dir: Path
    knobs: dict[str, Any] = field(default_factory=dict)
    notebook: str = "notebook"
    results_dir: Path | None = None
    threads: int = 1

    def __getattr__(self, name: str) -> Any:
        knobs = self.__dict__.get("knobs", {})
        if name in knobs:
            return knobs[name]
        raise AttributeError(name)

    @property
    def label(self) -> str:
        """A caption for every figure and table: which profile, data set and how many images."""
        return f"{self.profile} profile · {self.dataset} · {self.n_images} images"

    @property
    def settings_hash(self) -> str:
        """6 hex digits of the settings that change results (data set, models, images, size, the knobs)."""
        settings = [self.dataset, self.models, self.n_images, self.image_size, self.data_root, self.knobs]
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=repr).encode()).hexdigest()[:6]

    def name(self, what: str = "") -> str:
        """A file name stem that carries notebook, what, data set, profile and the settings hash, so that a rerun
        with other parameters writes beside, not over, the last one: ``02_apsr_synth_city_quick_1a2b3c``."""
        parts = [self.notebook, what, self.dataset, self.profile, self.settings_hash]
        return "_".join(p for p in parts if p)

    def results(self, what: str = "") -> Path:
        """The folder of this run's result rows under RESULTS_DIR (named like :meth:`name`)."""
        if self.results_dir is None:
            raise ValueError("setup() was called without RESULTS_DIR; pass RESULTS_DIR=... to keep result rows")
        return self.results_dir / self.name(what)


def default_models(dataset: str) -> list[str]:
    """The registered models of a data set's label space (the tiny ones for synthetic sets)."""
    from uwl_utils.models import MODELS

    return [name for name, spec in MODELS.items() if spec.dataset == dataset]


def _check_dataset(dataset: str, data_root: str | None) -> None:
    from uwl_utils.data import dataset_names

    if dataset not in dataset_names():
        raise ValueError(f"DATASET={dataset!r} is unknown; use one of {dataset_names()}")
    if dataset in REAL_DATASETS:
        if data_root is None:
            raise ValueError(
                f"DATASET={dataset!r} needs DATA_ROOT: pass -p DATA_ROOT /path/to/{dataset} (see data/README.md)"
            )
        if not Path(data_root).is_dir():
            raise ValueError(f"DATA_ROOT={str(data_root)!r} does not exist; point it at the {dataset} folder")


def check_model_classes(model: torch.nn.Module, dataset: Any, name: str) -> None:
    """ValueError unless ``model`` outputs one channel per class of ``dataset`` (and, where the model names its
    classes, the same names in the same order)."""
    n_model, n_data = int(model.num_classes), int(dataset.num_classes)
    data_names = tuple(dataset.class_names)
    if n_model != n_data:
        raise ValueError(f"model {name!r} outputs {n_model} classes but DATASET={dataset.name!r} has {n_data} "
                         f"({', '.join(data_names[:5])}, ...); pick a model trained on its label space")  # fmt: skip
    names = tuple(getattr(model, "class_names", ()) or ())
    generic = names == tuple(f"class {k}" for k in range(n_model))  # wrap() without classes=: nothing to compare
    if names and not generic and names != data_names:
        k = next(i for i, (a, b) in enumerate(zip(names, data_names, strict=True)) if a != b)
        raise ValueError(f"model {name!r} calls class {k} {names[k]!r} but DATASET={dataset.name!r} calls it "
                         f"{data_names[k]!r}; the model's classes must follow the data set's order")  # fmt: skip


def resolve_model(
    spec: str, dataset: Any, device: str | torch.device = "cpu", name: str | None = None
) -> tuple[str, torch.nn.Module]:
    """A ``MODEL_SPEC`` as (name, model ready for attacks), its classes checked against ``dataset``.

    ``spec``: a registry file, a Python file or module with ``UWL_MODELS``, or a factory
    ``package.module:function`` (see :func:`uwl_utils.user_models.register_spec`); ``name`` picks one entry
    when the spec registers several. ``dataset`` is a data set object or a name for ``load_dataset``.
    """
    from uwl_utils.data import load_dataset
    from uwl_utils.models import load_model

    names = register_spec(spec)
    if name is None and len(names) != 1:
        raise ValueError(f"MODEL_SPEC={spec!r} registers {names}; pick one with name=")
    if name is not None and name not in names:
        raise ValueError(f"MODEL_SPEC={spec!r} registers {names}, not {name!r}")
    chosen = name or names[0]
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    model = load_model(chosen, device=device)
    check_model_classes(model, data, chosen)
    return chosen, model


def _check_models(models: Sequence[str], dataset: str, data_root: str | None, size: Sequence[int] | None) -> None:
    """Registered models must be trained for ``dataset``; a user's models must output its classes (built once
    on the CPU to read their output channels)."""
    from uwl_utils.models import MODELS, load_model
    from uwl_utils.user_models import USER_MODELS

    data = None
    for name in models:
        if name in USER_MODELS:
            if data is None:
                from uwl_utils.data import load_dataset

                data = load_dataset(dataset, root=data_root, size=tuple(size) if size is not None else None)
            check_model_classes(load_model(name), data, name)
            continue
        if name not in MODELS:
            known = sorted(MODELS) + sorted(USER_MODELS)
            raise ValueError(f"MODELS contains unknown model {name!r}; known models: {known} (a model of your "
                             "own: MODEL_SPEC, see README 'Your own model')")  # fmt: skip
        if MODELS[name].dataset != dataset:
            raise ValueError(
                f"model {name!r} is trained for {MODELS[name].dataset!r}, not DATASET={dataset!r}; "
                f"models for {dataset!r}: {default_models(dataset)}"
            )


def setup(
    profiles: Mapping[str, Mapping[str, Any]],
    *,
    PROFILE: str,
    DEVICE: str = "auto",
    DATASET: str,
    MODELS: Sequence[str] | None = None,
    MODEL_SPEC: str | None = None,
    N_IMAGES: int | None = None,
    IMAGE_SIZE: Sequence[int] | None = None,
    BATCH_SIZE: int | None = None,
    DATA_ROOT: str | None = None,
    OUT_DIR: str = "../figures",
    RESULTS_DIR: str | None = None,
    THREADS: int | None = None,
    NOTEBOOK: str = "notebook",
    **overrides: Any,
) -> Setup:
    """Validate a notebook's parameters and fill the unset ones from ``profiles[PROFILE]``.

    ``profiles`` maps profile name to values for ``n_images``, ``batch_size``, optionally ``models``
    and ``image_size``, and the notebook's own knobs; ``overrides`` set knobs explicitly (None = keep).
    Relative ``OUT_DIR`` / ``RESULTS_DIR`` resolve against the notebook's folder whatever the working directory
    (:func:`output_dir`); the environment variables ``UWL_OUT_DIR`` / ``UWL_RESULTS_DIR``, when set, replace
    them (the nbval run points them at a fresh folder, so it neither reads back old result rows nor writes over
    ``figures/``). Inline figures are drawn at ``FIGURE_DPI``. ``THREADS`` pins torch's CPU threads (None: every
    core of the machine), so that a neighbouring job cannot make a run oversubscribe the cores.
    ``MODEL_SPEC`` registers a user's models (:func:`uwl_utils.user_models.register_spec`; a relative file
    resolves like ``OUT_DIR``); they are the notebook's models unless ``MODELS`` names others.
    """
    if PROFILE not in profiles:
        raise ValueError(f"PROFILE={PROFILE!r} is unknown; use one of {list(profiles)}")
    MODELS, IMAGE_SIZE = as_list(MODELS, "MODELS"), as_list(IMAGE_SIZE, "IMAGE_SIZE")
    overrides = {k: as_list(v, k) if isinstance(v, str) and v.lstrip().startswith("[") else v
                 for k, v in overrides.items()}  # fmt: skip
    prof = dict(profiles[PROFILE])
    _check_dataset(DATASET, DATA_ROOT)
    here = notebook_dir(NOTEBOOK)
    spec_models = register_spec(anchor_spec(MODEL_SPEC, here)[0]) if MODEL_SPEC is not None else []
    models = list(MODELS if MODELS is not None else spec_models or prof.get("models") or default_models(DATASET))
    prof.pop("models", None)
    n_images = int(N_IMAGES if N_IMAGES is not None else prof.pop("n_images"))
    batch_size = int(BATCH_SIZE if BATCH_SIZE is not None else prof.pop("batch_size"))
    size = IMAGE_SIZE if IMAGE_SIZE is not None else prof.pop("image_size", None)
    _check_models(models, DATASET, DATA_ROOT, size)
    for key in ("n_images", "batch_size", "image_size"):
        prof.pop(key, None)
    if n_images < 1 or batch_size < 1:
        raise ValueError(f"N_IMAGES and BATCH_SIZE must be at least 1; got {n_images} and {batch_size}")
    unknown = set(overrides) - set(prof)
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)}; this notebook's knobs: {sorted(prof)}")
    prof.update({k: v for k, v in overrides.items() if v is not None})
    threads = int(THREADS) if THREADS is not None else os.cpu_count() or 1
    if threads < 1:
        raise ValueError(f"THREADS must be at least 1 (or None for every core); got {THREADS}")
    torch.set_num_threads(threads)
    plt.rcParams["figure.dpi"] = FIGURE_DPI
    out_dir = output_dir(OUT_DIR, NOTEBOOK)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_dir = os.environ.get(ENV_RESULTS_DIR, RESULTS_DIR)
    cfg = Setup(
        profile=PROFILE,
        device=resolve_device(DEVICE),
        dataset=DATASET,
        models=models,
        n_images=n_images,
        image_size=tuple(int(s) for s in size) if size is not None else None,
        batch_size=batch_size,
        data_root=DATA_ROOT,
        out_dir=out_dir,
        knobs=prof,
        notebook=NOTEBOOK,
        results_dir=here / results_dir if results_dir is not None else None,
        threads=threads,
    )
    print(f"{cfg.label} · models {', '.join(models)} · device {cfg.device} · {threads} thread(s)")
    return cfg


def as_list(value: Any, name: str) -> Any:
    """A list parameter as given: a list stays, a string is read as YAML (plain ``papermill -p MODELS '[a, b]'``
    passes the text; ``-y`` passes the list), None stays None. Anything else that is not a list is an error."""
    if isinstance(value, str):
        import yaml

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ValueError(f"{name}={value!r} is not a list; write it as [a, b] (YAML)") from err
    if value is not None and not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list such as [a, b]; got {value!r}")
    return value


def notebook_dir(notebook: str) -> Path:
    """The folder a notebook's relative paths mean: the working directory when it holds ``<notebook>.ipynb``
    (JupyterLab, papermill with ``--cwd``), else the repository's ``notebooks/`` (papermill run from elsewhere)."""
    cwd = Path.cwd()
    return cwd if (cwd / f"{notebook}.ipynb").is_file() else NOTEBOOKS


def output_dir(OUT_DIR: str, notebook: str) -> Path:
    """The folder a notebook's ``OUT_DIR`` parameter means: ``$UWL_OUT_DIR`` when set, else ``OUT_DIR`` against
    :func:`notebook_dir` (an absolute path stays as it is)."""
    return notebook_dir(notebook) / os.environ.get(ENV_OUT_DIR, OUT_DIR)


def attack_configs(
    names: Sequence[str],
    eps_255: Sequence[float],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    eps_space: str = "pixel",
) -> list[AttackConfig]:
    """The configurations of a notebook's ``ATTACKS`` / ``EPS_255``: an attack with an ε (an ``eps`` keyword) once
    per value of ``eps_255`` (0–255 units in ``eps_space``, converted by :func:`uwl_utils.protocol.eps_space_grid`),
    a minimal-norm attack (minimal-ε PGD, ALMA prox) once; ``params`` holds each attack's keywords (an attack left
    out runs with its defaults)."""
    from uwl_utils.protocol import eps_space_grid

    params = dict(params or {})
    unknown = sorted(set(names) - set(ATTACKS))
    if unknown:
        raise ValueError(f"ATTACKS contains unknown attack(s) {unknown}; known attacks: {', '.join(ATTACKS)}")
    if not names or not eps_255 or any(float(e) <= 0 for e in eps_255):
        raise ValueError(f"ATTACKS and EPS_255 need at least one value, ε > 0; got {list(names)} and {eps_255}")
    configs = []
    for name in names:
        takes_eps = ATTACKS[name].eps_param == "eps"
        configs += eps_space_grid(name, eps_255 if takes_eps else None, eps_space, **params.get(name, {}))
    return configs


def attacks_caption(configs: Sequence[AttackConfig], eps_space: str = "pixel") -> str:
    """One line per attack for a figure's small print: its label (minimal-ε and fixed-ε PGD told apart), the ε it
    ran at (pixel units, /255) and the parameters the notebook set, so that every reduced setting is on the figure."""
    from uwl_utils.protocol import attack_label

    lines: dict[str, str] = {}
    for c in configs:
        eps = sorted({f"{x.eps_255:.3g}" for x in configs if x.name == c.name and x.eps_255 is not None}, key=float)
        params = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in c.params.items())
        where = f" at ε {', '.join(eps)}/255 ({eps_space} ε given)" if eps else ""
        lines.setdefault(c.name, f"{attack_label(c.name)}{where}" + (f": {params}" if params else " (defaults)"))
    return "; ".join(lines.values())


def weighting_runtimes(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    configs: Sequence[AttackConfig],
    weightings: Sequence[str],
    reps: int = 3,
) -> pd.DataFrame:
    """Table 1: seconds per image of each attack configuration with each weighting and the weighting's time over
    ``weightings[0]``'s, timed interleaved and repeated (:func:`uwl_utils.runtime.paired_ratios`): the median of
    the per-repetition ratios and their range. Seconds are this machine's."""
    from uwl_utils.protocol import attack_label
    from uwl_utils.runtime import paired_ratios

    out = []
    for c in configs:
        kwargs = c.kwargs()
        runs = {w: functools.partial(ATTACKS[c.name], model, images, labels, weighting=w, **kwargs) for w in weightings}
        for w, r in paired_ratios(runs, baseline=weightings[0], reps=reps, device=images.device).items():
            out.append({"attack": attack_label(c.name), "eps_255": c.eps_255, "weighting": w,
                        "seconds_per_image": r["seconds"] / len(images), f"time / {weightings[0]}": r["ratio"],
                        "ratio range": f"{r['ratio_min']:.2f}–{r['ratio_max']:.2f}"})  # fmt: skip
    return pd.DataFrame(out)


def compare_attack(
    model: torch.nn.Module,
    item: Mapping[str, Any],
    attack: str,
    eps_255: float,
    weightings: Sequence[str],
    **params: Any,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Attack one data set item once per weighting; returns the before/after figure and a per-weighting table.

    Panels: image, ground truth, clean prediction, then the adversarial prediction of each weighting and the
    last perturbation (amplified), with a legend of the classes shown when the model has ``class_names``. The
    table holds APSR (%, paper Eq. 11) and the perturbation's ℓ∞ norm (× 255).
    """
    config = AttackConfig(attack, eps_255, params)
    device = next(model.parameters()).device
    x, y = item["image"][None].to(device), item["label"][None].to(device)
    with torch.no_grad():
        clean = model(x).argmax(1)
    panels = [("image", x[0], "image"), ("ground truth", y[0], "label"), ("clean prediction", clean[0], "label")]
    rows = [{"weighting": "clean", "apsr": 100 * apsr(clean, y).item(), "linf_255": 0.0}]
    for weighting in weightings:
        adv = ATTACKS[attack](model, x, y, weighting=weighting, **config.kwargs())
        with torch.no_grad():
            pred = model(adv).argmax(1)
        rows.append({"weighting": weighting, "apsr": 100 * apsr(pred, y).item(),
                     "linf_255": 255 * (adv - x).abs().max().item()})  # fmt: skip
        panels.append((f"{attack} ε={eps_255:g}/255, {weighting}: APSR {rows[-1]['apsr']:.0f} %", pred[0], "label"))
    panels.append((f"perturbation, {weighting}", (adv - x)[0], "diff"))
    fig = show_segmentations(panels, model.palette, ncols=3, class_names=getattr(model, "class_names", None))
    return fig, pd.DataFrame(rows)
