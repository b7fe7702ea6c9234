"""``python -m benchmarks.run`` (``make bench``): every section on the CPU, then on CUDA when present.

    python -m benchmarks.run                               # the default profile (≤ 10 min on 2 cores)
    python -m benchmarks.run --profile quick               # a smoke run
    python -m benchmarks.run --set reps=7 --set paper_images=2 --sections overhead,peers
    make bench BENCH_ARGS="--profile quick --no-gpu"

The CPU part runs the embedded default: the trained tiny ``synth_city/deeplabv3plus`` on images of the
synthetic val split. The GPU part (skipped without CUDA, or with ``--no-gpu``) runs the same sections on the
full-size zoo architectures (``--gpu-models``) with random weights, at the paper's resolutions (Cityscapes
1024×2048, VOC 512×512), on random images and labels: speed does not depend on the weights. Results:
``OUT/NAME.json`` and ``OUT/NAME.md`` (default ``benchmarks/results/latest``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch import nn

from benchmarks.peers import Peer, load_peers
from benchmarks.report import machine, targets, write_results
from benchmarks.suite import OPTIONAL_SECTIONS, PROFILES, SECTIONS, Profile, Setup, run_sections, scaled
from benchmarks.timing import make_sync
from uwl_utils.checks import IGNORE_INDEX
from uwl_utils.testing import ToySegmenter

__all__ = ["main", "benchmark", "cpu_setup", "toy_setup", "gpu_setup", "PAPER_RESOLUTIONS"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PAPER_RESOLUTIONS = {"cityscapes": (1024, 2048), "voc": (512, 512)}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _n_images(profile: Profile) -> int:
    return max(
        max(profile.batch_sizes),
        profile.overhead_batch,
        profile.peer_batch,
        profile.peer_alma_batch,
        profile.peer_alma_images,
        profile.paper_images,
    )


def _random_zoo_model(name: str, device: str | torch.device) -> nn.Module:
    """A full-size zoo architecture with random weights behind the [0,1]-RGB wrapper, frozen."""
    from uwl_utils.models import SegmentationModel, build_segmentor, get_spec

    model = SegmentationModel(build_segmentor(name, device), get_spec(name)).to(device)
    return model.requires_grad_(False)


def cpu_setup(
    model_name: str,
    dataset: str,
    n_images: int,
    size: tuple[int, int] | None,
    reference: str | None = None,
    log=_log,
) -> Setup:
    """The embedded default on the CPU: a trained tiny model and the first ``n_images`` of the val split.

    ``reference``: a zoo architecture (random weights) to put the weighting's cost in proportion.
    """
    from uwl_utils import load_dataset, load_model

    model = load_model(model_name, device="cpu")
    data = load_dataset(dataset, split="val", size=size)
    batch = torch.utils.data.default_collate([data[i] for i in range(min(n_images, len(data)))])
    h, w = batch["image"].shape[-2:]
    ref = (reference, _random_zoo_model(reference, "cpu")) if reference else None
    return Setup(
        f"CPU: {model_name} on {dataset} val, {h}×{w}",
        model,
        batch["image"],
        batch["label"],
        torch.device("cpu"),
        make_sync("cpu"),
        log,
        {
            "model": model_name,
            "dataset": dataset,
            "size": [h, w],
            "weights": "trained (embedded)",
            "images": int(batch["image"].shape[0]),
        },
        ref,
    )


def _random_labels(n: int, num_classes: int, size: tuple[int, int], gen: torch.Generator) -> torch.Tensor:
    labels = torch.randint(0, num_classes, (n, *size), generator=gen)
    labels[torch.rand(labels.shape, generator=gen) < 0.05] = IGNORE_INDEX
    return labels


def toy_setup(n_images: int = 4, size: tuple[int, int] = (16, 24), log=_log) -> Setup:
    """A toy model on random images (labels: its clean prediction with 20 % flipped, 5 % ignored)."""
    gen = torch.Generator().manual_seed(0)
    model = ToySegmenter()
    images = torch.rand(n_images, 3, *size, generator=gen)
    with torch.no_grad():
        labels = model(images).argmax(1)
    flip = torch.rand(labels.shape, generator=gen) < 0.2
    labels = torch.where(flip, (labels + 1) % model.num_classes, labels)
    labels[torch.rand(labels.shape, generator=gen) < 0.05] = IGNORE_INDEX
    return Setup(
        f"CPU: toy model, {size[0]}×{size[1]}",
        model,
        images,
        labels,
        torch.device("cpu"),
        make_sync("cpu"),
        log,
        {"model": "toy", "size": list(size), "images": n_images},
    )


def gpu_setup(model_name: str, n_images: int, device: str = "cuda", size: tuple[int, int] | None = None, log=_log):
    """A full-size zoo architecture with random weights at the paper's resolution, random images and labels."""
    from uwl_utils.models import get_spec

    spec = get_spec(model_name)
    size = size or PAPER_RESOLUTIONS.get(spec.dataset, (512, 512))
    model = _random_zoo_model(model_name, device)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(n_images, 3, *size, generator=gen).to(device)
    labels = _random_labels(n_images, spec.num_classes, size, gen).to(device)
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else str(dev)
    return Setup(
        f"GPU ({name}): {model_name}, random weights, {size[0]}×{size[1]}",
        model,
        images,
        labels,
        dev,
        make_sync(dev),
        log,
        {"model": model_name, "size": list(size), "weights": "random", "images": n_images, "device": name},
    )


def benchmark(
    setups: Sequence[Setup],
    profile: Profile,
    peers: dict[str, Peer],
    sections: Sequence[str] = SECTIONS,
    skipped: dict[str, str] | None = None,
    argv: Sequence[str] = (),
) -> dict[str, object]:
    """Run ``sections`` on each setup; returns the whole result (machine, profile, runs, targets)."""
    start = time.perf_counter()
    info = machine()
    runs, rows = [], []
    for setup in setups:
        run = run_sections(setup, profile, peers, tuple(sections))
        runs.append(run)
        rows += targets(run, setup.label.split(":")[0])
    return {
        "schema": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": list(argv),
        "machine": info,
        "profile": profile.as_record(),
        "peers": {k: p.as_record() for k, p in peers.items()},
        "runs": runs,
        "skipped": dict(skipped or {}),
        "targets": rows,
        "wall_s": time.perf_counter() - start,
    }


def _parse_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    h, w = text.lower().split("x")
    return int(h), int(w)


def _apply_sets(profile: Profile, sets: Sequence[str]) -> Profile:
    fields = {f.name: f for f in dataclasses.fields(Profile)}
    changes: dict[str, object] = {}
    for item in sets:
        key, _, value = item.partition("=")
        if key not in fields or key == "name":
            raise SystemExit(
                f"--set {item}: unknown profile field; fields: {', '.join(k for k in fields if k != 'name')}"
            )
        current = getattr(profile, key)
        if isinstance(current, tuple):
            changes[key] = tuple(int(v) for v in value.split(",") if v)
        elif isinstance(current, float):
            num, _, den = value.partition("/")  # allows 8/255
            changes[key] = float(num) / float(den or 1)
        else:
            changes[key] = type(current)(value)
    return scaled(profile, **changes)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="default")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a profile field, e.g. reps=7, batch_sizes=1,2,4, eps=8/255",
    )
    p.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {SECTIONS}, or the slow full-size ones {OPTIONAL_SECTIONS}",
    )
    p.add_argument("--model", default="synth_city/deeplabv3plus", help="CPU model; 'toy' for a smoke run")
    p.add_argument("--dataset", default="synth_city")
    p.add_argument("--size", default=None, help="CPU image size HxW (default: the data set's)")
    p.add_argument(
        "--reference-model",
        default="cityscapes/deeplabv3plus",
        help="full-size architecture (random weights) timed on the CPU batch to put the weighting's "
        "cost in proportion; '' to skip",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on shared or virtual cores extra threads wait on each other and the "
        "timings scatter; the reported ratios do not need them; 0 keeps torch's choice)",
    )
    p.add_argument("--no-peers", action="store_true", help="skip torchattacks and adv_lib even if installed")
    p.add_argument("--adv-lib-eager", action="store_true", help="run adv_lib's prox without its torch.compile")
    p.add_argument("--no-cpu", action="store_true", help="only the GPU part")
    p.add_argument("--no-gpu", action="store_true", help="skip the GPU part even when CUDA is available")
    p.add_argument(
        "--gpu-models",
        default="cityscapes/deeplabv3plus",
        help="comma-separated zoo architectures for the GPU part (random weights)",
    )
    p.add_argument("--gpu-size", default=None, help="GPU image size HxW (default: the paper's per data set)")
    p.add_argument("--out", default=str(RESULTS_DIR))
    p.add_argument("--name", default="latest")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    profile = _apply_sets(PROFILES[args.profile], args.set)
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    n = _n_images(profile)
    if args.no_peers:
        reason = "--no-peers"
        peers = {
            k: Peer(f"{pkg}.{k}", pkg, None, None, reason)
            for k, pkg in (("BIM", "torchattacks"), ("PGD", "torchattacks"), ("alma_prox", "adv-lib"))
        }
    else:
        peers = load_peers(adv_lib_eager=args.adv_lib_eager)
    for peer in peers.values():
        _log(f"peer {peer.name}: " + (f"version {peer.version}" if peer.available else f"SKIPPED — {peer.reason}"))

    setups: list[Setup] = []
    skipped: dict[str, str] = {}
    if not args.no_cpu:
        if args.model == "toy":
            setups.append(toy_setup(n, _parse_size(args.size) or (16, 24)))
        else:
            ref = args.reference_model if "overhead" in sections else None
            setups.append(cpu_setup(args.model, args.dataset, n, _parse_size(args.size), ref or None))
    if args.no_gpu:
        skipped["GPU"] = "--no-gpu"
    elif not torch.cuda.is_available():
        skipped["GPU"] = "no CUDA device on this machine"
        _log("GPU part skipped: no CUDA device")
    else:
        for name in (m.strip() for m in args.gpu_models.split(",") if m.strip()):
            setups.append(gpu_setup(name, n, "cuda", _parse_size(args.gpu_size)))

    result = benchmark(setups, profile, peers, sections, skipped, argv)
    json_path, md_path = write_results(result, args.out, args.name)
    _log(f"wrote {json_path} and {md_path} ({result['wall_s']:.0f} s)")
    print(md_path.read_text())
    return result


if __name__ == "__main__":
    main()
