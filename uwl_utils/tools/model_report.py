"""Model card of the tiny embedded models: ``python -m uwl_utils.tools.model_report [NAME ...]``.

For each trained tiny model: parameters, checkpoint size, training time (from the checkpoint's meta), clean
mIoU / pixel accuracy / per-class IoU on the first 64 val images, and whether attacks mean something on it —
APSR of plain I-FGSM (α = 1/255) at ε = 4/255 and of random ±8/255 noise on the first 32 val images. Writes
``data/checkpoints/REPORT.md`` and ``REPORT.json``, and ``figures/synthetic_samples.png`` (image | label pairs
of each synthetic val split). Naming models recomputes their cards only and keeps the others of REPORT.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from typing import Any

from uwl_utils.data import load_dataset
from uwl_utils.experiment import AttackConfig, run
from uwl_utils.models import MODELS, REPO_ROOT, checkpoint_path, load_model, read_checkpoint
from uwl_utils.tools.train import evaluate
from uwl_utils.viz import sample_grid, save_figure

__all__ = ["model_card", "main"]

# The embedded default's accuracy band and attack sanity band (docs/data_and_models.md §Tiny models).
TARGETS = {"miou": (50.0, 90.0), "pixel_accuracy": 85.0, "apsr_ifgsm4": (30.0, 85.0), "noise_gain": 5.0}


def model_card(name: str, n_clean: int = 64, n_attack: int = 32) -> dict[str, Any]:
    """The numbers of one tiny model (percentages in %)."""
    path = checkpoint_path(name)
    model = load_model(name)
    _, meta = read_checkpoint(path)
    val = load_dataset(MODELS[name].dataset, split="val")
    clean = evaluate(model, val, n_clean)
    with tempfile.TemporaryDirectory() as out:
        attacks = [AttackConfig("ifgsm", 4, {"alpha": 1 / 255}), AttackConfig("uniform_noise", 8)]
        summary = run({name: model}, attacks, ["none"], val, n_images=n_attack, batch_size=8, out=out,
                      progress=False).summary.set_index("attack")  # fmt: skip
    return {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "checkpoint_mb": path.stat().st_size / 2**20,
        "train_steps": meta.get("steps"),
        "train_minutes": meta.get("train_seconds", float("nan")) / 60,
        "train_noise_255": round(255 * meta.get("noise", 0.0)),
        "miou": 100 * clean["val_miou"],
        "pixel_accuracy": 100 * clean["val_pixel_accuracy"],
        "apsr_clean": summary.loc["ifgsm", "apsr_clean"],
        "apsr_ifgsm4": summary.loc["ifgsm", "apsr"],
        "apsr_noise8": summary.loc["uniform_noise", "apsr"],
        "noise_gain": summary.loc["uniform_noise", "apsr"] - summary.loc["uniform_noise", "apsr_clean"],
        "iou": {k: None if v is None else round(100 * v, 1) for k, v in clean["val_iou"].items()},
    }


def _within(card: dict[str, Any]) -> bool:
    lo, hi = TARGETS["miou"]
    alo, ahi = TARGETS["apsr_ifgsm4"]
    return (lo <= card["miou"] <= hi and card["pixel_accuracy"] >= TARGETS["pixel_accuracy"]
            and alo <= card["apsr_ifgsm4"] <= ahi and card["noise_gain"] < TARGETS["noise_gain"])  # fmt: skip


def markdown(cards: Sequence[dict[str, Any]]) -> str:
    """The cards as markdown tables: one summary row per model, then per-class IoU."""
    lines = [
        "| model | params | ckpt MB | steps | noise aug | train min | mIoU % | pixel acc % | clean APSR % "
        "| I-FGSM ε=4 APSR % | ±8 noise APSR % (gain) | in targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cards:
        noise = c.get("train_noise_255", 0)
        lines.append(
            f"| {c['model']} | {c['parameters'] / 1e6:.2f} M | {c['checkpoint_mb']:.1f} | {c['train_steps']} "
            f"| {f'±{noise}/255' if noise else '—'} | {c['train_minutes']:.1f} | {c['miou']:.1f} "
            f"| {c['pixel_accuracy']:.1f} | {c['apsr_clean']:.1f} "
            f"| {c['apsr_ifgsm4']:.1f} | {c['apsr_noise8']:.1f} (+{c['noise_gain']:.1f}) "
            f"| {'yes' if _within(c) else 'NO'} |"
        )
    for c in cards:
        lines += ["", f"Per-class IoU (%) of {c['model']}:", ""]
        lines.append(", ".join(f"{k} {'—' if v is None else v}" for k, v in c["iou"].items()))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m uwl_utils.tools.model_report", description=__doc__.split("\n")[0])
    tiny = [n for n, s in MODELS.items() if s.tiny]
    parser.add_argument(
        "names",
        nargs="*",
        help=f"recompute these only, keeping the other cards of REPORT.json; default: every trained one of {tiny}",
    )
    args = parser.parse_args(argv)
    out = checkpoint_path(tiny[0]).parent
    trained = [n for n in tiny if checkpoint_path(n).is_file()]
    kept = {}
    if args.names and (out / "REPORT.json").is_file():
        kept = {c["model"]: c for c in json.loads((out / "REPORT.json").read_text()) if c["model"] in trained}
    fresh = {n: model_card(n) for n in (args.names or trained)}
    cards = [{**kept, **fresh}[n] for n in tiny if n in kept or n in fresh]
    text = (
        f"# Tiny embedded models\n\nWritten by `python -m uwl_utils.tools.model_report`. Targets: mIoU "
        f"{TARGETS['miou']} %, pixel accuracy ≥ {TARGETS['pixel_accuracy']} %, I-FGSM ε=4/255 APSR "
        f"{TARGETS['apsr_ifgsm4']} %, random ±8/255 noise raising APSR by < {TARGETS['noise_gain']} points. "
        "Clean metrics on the first 64 val images, attacks on the first 32.\n\n" + markdown(cards)
    )
    (out / "REPORT.md").write_text(text)
    (out / "REPORT.json").write_text(json.dumps(cards, indent=2) + "\n")
    print(text)
    samples = sample_grid({name: load_dataset(name) for name in ("synth_city", "synth_voc")}, n=4)
    paths = save_figure(samples, "synthetic_samples", REPO_ROOT / "figures")
    print(f"samples: {paths[0]}")


if __name__ == "__main__":
    main()
