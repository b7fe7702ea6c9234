"""SEA's released APGD beside ours, and the paper's weightings inside APGD: APSR per loss and worst cases.

Runs on ``synth_city/deeplabv3plus`` and the first ``--n-images`` val images of ``synth_city``, at each ε:

- per SEA loss (Mask-CE, SegPGD, JS, masked normalised correct logit): our ``apgd`` with SEA's schedule and
  tracked loss, and the release's ``apgd_largereps`` with the settings its ``tools/infer.py`` uses,
- SEA's worst case over the four losses, ours and the release's,
- the paper's weightings ``E`` and ``L0`` inside the same APGD (ours only) and their worst case.

Each run has ``--steps`` iterations (SEA: 300); the table states it. The release (github.com/nmndeep/
robust-segmentation) is not a dependency: pass the folder that holds its ``semseg/utils/attacker.py`` with
``--release`` (without it only our rows are computed). Its ``autoattack.other_utils`` import is served by a
stand-in, and the tracked loss ``norm-corrlog-avg`` that its ``infer.py`` asks for (missing from its
``criterion_dict``) is added as the unmasked normalised correct-logit loss.

    python -m benchmarks.sea_agreement --release /tmp/sea_release --steps 300 --eps 4 8 --device cuda
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import types
from functools import partial
from pathlib import Path

import torch

from uwl_utils import load_dataset, load_model
from uwl_utils.attacks import apgd
from uwl_utils.attacks.apgd import SEA_SCHEDULE
from uwl_utils.attacks.base import success_fraction
from uwl_utils.attacks.sea import SEA_LOSSES
from uwl_utils.checks import IGNORE_INDEX

__all__ = ["RELEASE_LOSSES", "load_release", "release_attack", "our_attack", "agreement_table", "main"]

# our scheme -> (the release's attacked loss, its tracked loss), as its tools/infer.py pairs them
RELEASE_LOSSES = {
    "MaskCE": ("mask-ce-avg", "ce-avg"),
    "SegPGD": ("segpgd-loss", "ce-avg"),
    "JS": ("js-avg", "ce-avg"),
    "MaskNCL": ("mask-norm-corrlog-avg", "norm-corrlog-avg"),
}
PAPER_LOSSES = ("E", "L0")


def _stand_in_other_utils() -> types.ModuleType:
    """``autoattack.other_utils`` as far as the release's ℓ∞ APGD uses it: norms and a silent logger."""
    module = types.ModuleType("autoattack.other_utils")

    def norm(p: float, x: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
        n = x.flatten(1).norm(p=p, dim=1)
        return n.view(-1, *[1] * (x.dim() - 1)) if keepdim else n

    module.L0_norm, module.L1_norm, module.L2_norm = partial(norm, 0), partial(norm, 1), partial(norm, 2)
    module.Logger = lambda log_path=None: types.SimpleNamespace(log=lambda *args, **kwargs: None)
    return module


def load_release(folder: str | Path) -> types.ModuleType:
    """The release's ``semseg.utils.attacker`` from ``folder``, with the stand-in and the missing tracked loss."""
    package = types.ModuleType("autoattack")
    package.other_utils = _stand_in_other_utils()
    sys.modules.setdefault("autoattack", package)
    sys.modules.setdefault("autoattack.other_utils", package.other_utils)
    sys.path.insert(0, str(Path(folder).resolve()))
    attacker = importlib.import_module("semseg.utils.attacker")
    attacker.criterion_dict.setdefault(
        "norm-corrlog-avg", partial(attacker.single_logits_loss, normalized=True, reduction="none")
    )
    return attacker


def release_attack(attacker, model, images, labels, eps: float, steps: int, scheme: str, seed: int) -> torch.Tensor:
    """The release's SEA run for one loss (``apgd_largereps``, random start, early stop), labels 255 → −1.

    The random start is the same as ours for the same seed (both draw it on the CPU).
    """
    loss, track = RELEASE_LOSSES[scheme]
    torch.manual_seed(seed)
    y = torch.where(labels == IGNORE_INDEX, -1, labels)
    rand_like = torch.rand_like  # its random start, drawn on the CPU as ours is: the same start on any device
    torch.rand_like = lambda x: torch.rand(x.shape, dtype=x.dtype).to(x.device)
    try:
        adv, _, _ = attacker.apgd_largereps(
            model, images.clone(), y, norm="Linf", eps=eps, n_iter=steps, loss=loss, track_loss=track,
            use_rs=True, early_stop=True,
        )  # fmt: skip
    finally:
        torch.rand_like = rand_like
    return adv.detach()


def our_attack(model, images, labels, eps: float, steps: int, scheme: str, seed: int) -> torch.Tensor:
    """Our APGD with SEA's schedule and random start; SEA's losses track as in ``SEA_LOSSES``, others the CE."""
    track = SEA_LOSSES.get(scheme, "none")
    return apgd(
        model, images, labels, eps=eps, steps=steps, weighting=scheme, track=track, schedule=SEA_SCHEDULE,
        random_init=True, generator=seed,
    )  # fmt: skip


def _pooled(wrong: torch.Tensor, valid: torch.Tensor) -> float:
    return 100 * float(wrong.sum() / valid.sum())


def agreement_table(
    model, images, labels, eps_255: list[float], steps: int, seed: int, attacker=None, log=print
) -> list[dict]:
    """Rows (ε, loss, APSR ours, APSR release, Δ) in %, pooled over the images; worst cases per image."""
    valid = (labels != IGNORE_INDEX).flatten(1).sum(1)
    rows = []
    for e in eps_255:
        wrong: dict[tuple[str, str], torch.Tensor] = {}
        for scheme in (*RELEASE_LOSSES, *PAPER_LOSSES):
            sides = [("ours", our_attack)]
            if attacker is not None and scheme in RELEASE_LOSSES:
                sides.append(("release", partial(release_attack, attacker)))
            for side, fn in sides:
                start = time.perf_counter()
                adv = fn(model, images, labels, e / 255, steps, scheme, seed)
                assert float((adv - images).abs().max()) <= e / 255 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
                with torch.no_grad():
                    wrong[side, scheme] = success_fraction(model(adv), labels) * valid
                log(f"eps {e}/255 {scheme:8s} {side:8s} {_pooled(wrong[side, scheme], valid):6.2f} "
                    f"({time.perf_counter() - start:.1f} s)")  # fmt: skip
        groups = {"SEA worst case": tuple(RELEASE_LOSSES), "worst of E, L0": PAPER_LOSSES}
        for name, members in groups.items():
            for side in ("ours", "release"):
                if all((side, m) in wrong for m in members):
                    wrong[side, name] = torch.stack([wrong[side, m] for m in members]).amax(0)
        for scheme in (*RELEASE_LOSSES, *PAPER_LOSSES, *groups):
            ours = _pooled(wrong["ours", scheme], valid)
            theirs = _pooled(wrong["release", scheme], valid) if ("release", scheme) in wrong else float("nan")
            rows.append({"eps_255": e, "loss": scheme, "ours": ours, "release": theirs, "delta": ours - theirs})
    return rows


def _markdown(rows: list[dict], steps: int, n_images: int) -> str:
    lines = [
        f"APSR (%) pooled over {n_images} synth_city val images, synth_city/deeplabv3plus, APGD {steps} iterations "
        f"per loss, schedule 2ε/1.5ε/ε for 30/30/40 %",
        "",
        "| ε | loss | ours | release | ours − release |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [f"{r['eps_255']:g}/255", r["loss"], f"{r['ours']:.2f}", f"{r['release']:.2f}", f"{r['delta']:+.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", help="folder holding the release's semseg/utils/attacker.py")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eps", type=float, nargs="+", default=[4.0, 8.0], help="ε in 0–255 units")
    parser.add_argument("--n-images", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    attacker = load_release(args.release) if args.release else None
    model = load_model("synth_city/deeplabv3plus", device=args.device)
    data = load_dataset("synth_city")
    images = torch.stack([data[i]["image"] for i in range(args.n_images)]).to(args.device)
    labels = torch.stack([torch.as_tensor(data[i]["label"]) for i in range(args.n_images)]).to(args.device)
    rows = agreement_table(model, images, labels, args.eps, args.steps, args.seed, attacker)
    table = _markdown(rows, args.steps, args.n_images)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
