"""The benchmark's sections, run on one :class:`Setup` (a model, a batch of images and labels, a device).

Timed runs of different configurations are interleaved repetition by repetition (a slow spell of a shared
machine then hits all of them alike) and each configuration is warmed up once. Ratios are medians over
repetitions of ratios of runs taken back to back (overhead, floor, peers), times are medians
(:mod:`benchmarks.timing`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from benchmarks.fullsize import fullsize_overhead, iteration_memory
from benchmarks.peers import Peer
from benchmarks.timing import (
    PassCounter,
    Sync,
    bare_forward_backward,
    floor_ratio,
    images_per_second,
    median,
    overhead_ratios,
    paired_ratio,
    run_passes,
    timed,
)
from uwl_utils.attacks import alma_prox, apgd, cr_pgd, fgsm, ifgsm, ifgsm_steps, pgd
from uwl_utils.attacks.base import AttackInfo
from uwl_utils.losses import PAPER_SCHEMES, Weighting
from uwl_utils.metrics import apsr

__all__ = ["Profile", "PROFILES", "Setup", "SECTIONS", "OPTIONAL_SECTIONS", "run_sections"]

Log = Callable[[str], None]
OVERHEAD_ATTACKS = ("ifgsm", "pgd", "alma_prox")
CR_SCHEMES = ("none", "CR")


@dataclass(frozen=True)
class Profile:
    """How much to measure. ``reps`` timed repetitions per configuration; the rest sizes each section."""

    name: str
    reps: int = 5
    # 1 + 2: weighting overhead and floor ratio; steps a multiple of cr_pgd's refresh (5) so that CR's
    # smoothing forwards are amortised as in a full run
    overhead_batch: int = 1
    overhead_steps: int = 5
    eps: float = 8 / 255
    component_reps: int = 15  # the weighting alone, on fixed logits
    reference_reps: int = 2  # a full-size architecture's bare forward+backward, for scale
    # 3: batching
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16)
    batching_eps: float = 4 / 255  # the paper's n = 5 iterations
    batching_reps: int = 3
    # 4: peers (I-FGSM and PGD at ε = 8/255; ALMA prox at batch 1, the published setting)
    peer_batch: int = 1
    peer_reps: int = 5
    peer_pgd_steps: int = 40
    peer_alma_batch: int = 1
    peer_alma_steps: int = 50
    peer_alma_reps: int = 3
    # ALMA prox's APSR is compared over this many images, each attacked alone, next to ours' own drift when the
    # inputs move by 1e-6: short runs amplify rounding differences (a chaotic sign-like RMSprop start)
    peer_alma_images: int = 4
    # 5: the paper's runtime claim (batch 1, one image after the other)
    paper_images: int = 1
    paper_ifgsm_eps: float = 16 / 255
    paper_ifgsm_reps: int = 3
    paper_alma_steps: int = 500
    paper_weighting: str = "L0"
    # 6: APGD against PGD, time per forward+backward pass, without and with a weighting
    apgd_steps: int = 10
    apgd_schemes: tuple[str, ...] = ("none", "E", "L0")
    # 7 (optional, --sections fullsize): I-FGSM on a full-size architecture, every scheme against none
    fullsize_model: str = "cityscapes/deeplabv3plus"
    fullsize_depth: int = 101  # ResNet depth of the backbone; 0 keeps the model's own
    fullsize_size: tuple[int, ...] = (512, 1024)
    fullsize_steps: int = 1
    fullsize_reps: int = 2
    # 8 (optional, --sections memory): one I-FGSM iteration of the same model with and without checkpointing,
    # per size (H, W pairs, flattened); a size predicted to need more than memory_limit_gb is skipped
    memory_sizes: tuple[int, ...] = (512, 1024, 1024, 2048)
    memory_limit_gb: float = 20.0

    def as_record(self) -> dict[str, object]:
        rec = asdict(self)
        for key in ("eps", "batching_eps", "paper_ifgsm_eps"):
            rec[key + "_255"] = round(rec.pop(key) * 255, 6)
        rec["batch_sizes"] = list(self.batch_sizes)
        rec["apgd_schemes"] = list(self.apgd_schemes)
        return rec

    def architecture(self) -> tuple[str, dict]:
        """The full-size sections' (model name, config overrides)."""
        return self.fullsize_model, ({"backbone": {"depth": self.fullsize_depth}} if self.fullsize_depth else {})

    def sizes(self) -> list[tuple[int, int]]:
        """``memory_sizes`` as (H, W) pairs."""
        if len(self.memory_sizes) % 2:
            raise ValueError(f"memory_sizes must hold H, W pairs; got {self.memory_sizes}")
        return list(zip(self.memory_sizes[::2], self.memory_sizes[1::2], strict=True))


PROFILES: dict[str, Profile] = {
    # a smoke run (a few minutes on 2 cores): fewer repetitions, shorter runs
    "quick": Profile(
        "quick",
        reps=3,
        overhead_steps=5,
        batch_sizes=(1, 2, 4, 8, 16),
        batching_reps=2,
        peer_reps=2,
        peer_pgd_steps=10,
        peer_alma_steps=30,
        peer_alma_reps=1,
        peer_alma_images=2,
        paper_ifgsm_reps=2,
        paper_alma_steps=100,
    ),
    # make bench: every section at the targets' settings (docs/benchmarks.md §Targets), ≤ 10 minutes on 2 CPU cores
    "default": Profile("default"),
    # more repetitions and images, for a quiet machine
    "full": Profile(
        "full",
        reps=9,
        overhead_batch=2,
        overhead_steps=10,
        batching_reps=5,
        peer_reps=5,
        peer_alma_reps=3,
        peer_alma_steps=200,
        paper_images=4,
        paper_ifgsm_reps=5,
    ),
}


@dataclass
class Setup:
    """What a section runs on: ``images`` [n,3,H,W] in [0,1] and ``labels`` [n,H,W] on ``device``."""

    label: str
    model: nn.Module
    images: torch.Tensor
    labels: torch.Tensor
    device: torch.device
    sync: Sync
    log: Log = print
    info: dict[str, object] = field(default_factory=dict)
    # a full-size architecture (name, model) whose bare forward+backward puts the weighting's cost in proportion
    reference: tuple[str, nn.Module] | None = None

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``n`` images and labels, cycling through the set when it holds fewer."""
        idx = torch.arange(n, device=self.images.device) % self.images.shape[0]
        return self.images[idx], self.labels[idx]


def _pooled_apsr(model: nn.Module, adv: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float(apsr(model(adv).argmax(1), labels, reduction="pooled"))


def _linf_255(adv: torch.Tensor, images: torch.Tensor) -> list[float]:
    return [round(float(v) * 255, 4) for v in (adv - images).flatten(1).abs().amax(1)]


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _interleaved(
    configs: dict[str, Callable[[], object]],
    reps: int,
    sync: Sync,
    log: Log | None = None,
    results: dict[str, object] | None = None,
) -> dict[str, list[float]]:
    """``reps`` timed calls of every configuration, repetition by repetition, the order rotated each time.

    Returns the seconds per configuration; ``results``, when given, receives each configuration's last output.
    """
    names = list(configs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, out = timed(configs[name], sync)
            times[name].append(seconds)
            if results is not None:
                results[name] = out
        if log:
            log(f"  repetition {rep + 1}/{reps} done")
    return times


# --- 1 + 2: weighting overhead and floor ratio ------------------------------------------------------------------


def _attack_call(
    name: str, scheme: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, eps: float
) -> Callable[[], torch.Tensor]:
    if name == "fgsm":
        return lambda: fgsm(model, x, y, eps=eps, weighting=scheme)
    if name == "ifgsm":
        return lambda: ifgsm(model, x, y, eps=eps, alpha=1 / 255, steps=steps, weighting=scheme)
    if name == "pgd":
        return lambda: pgd(model, x, y, eps=eps, steps=steps, weighting=scheme)
    if name == "alma_prox":
        return lambda: alma_prox(model, x, y, steps=steps, weighting=scheme)
    if name == "cr_pgd":
        return lambda: cr_pgd(model, x, y, steps=steps, weighting=scheme, generator=0)
    raise ValueError(f"unknown attack {name!r}")


Unit = list[tuple[str, Callable[[], object]]]  # configurations that always run back to back


def _grouped(groups: dict[str, list[Unit]], reps: int, sync: Sync, log: Log | None = None) -> dict[str, list[float]]:
    """Like :func:`_interleaved`, but each group's configurations run back to back within a repetition.

    Timings of one group and repetition are then seconds apart, which makes their ratios (paired by
    repetition) robust to the slow spells of a shared machine; the configurations of one unit (an attack and
    its bare passes) follow each other directly, in alternating order. The group order and the order of the
    units inside each group rotate from one repetition to the next.
    """
    names = list(groups)
    times: dict[str, list[float]] = {key: [] for g in groups.values() for unit in g for key, _ in unit}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            units = groups[name]
            shift = rep % len(units)
            for unit in units[shift:] + units[:shift]:
                for key, call in unit if rep % 2 == 0 else unit[::-1]:
                    times[key].append(timed(call, sync)[0])
        if log:
            log(f"  repetition {rep + 1}/{reps} done")
    return times


def overhead_and_floor(setup: Setup, profile: Profile) -> dict[str, object]:
    """Sections 1 and 2 from one set of repetitions.

    Overhead: every scheme of I-FGSM, PGD and ALMA prox (and CR-PGD with CR) against ``"none"``, the same
    number of iterations, so the ratio of wall times is the ratio of times per iteration. Floor: each
    ``"none"`` run (and FGSM, and CR-PGD with CR) against a bare run of the same passes (counted once with
    :class:`~benchmarks.timing.PassCounter`): its forward+backward passes × one bare forward+backward, plus
    any forward-only passes. Per repetition an attack's schemes go back to back, its bare run right next to
    its ``"none"`` run, and the ratios are medians of ratios paired by repetition.
    """
    x, y = setup.batch(profile.overhead_batch)
    steps, eps = profile.overhead_steps, profile.eps
    attacks = {"fgsm": ("none",), **{a: PAPER_SCHEMES for a in OVERHEAD_ATTACKS}, "cr_pgd": CR_SCHEMES}
    floor_keys = ["fgsm/none"] + [f"{a}/none" for a in OVERHEAD_ATTACKS] + [f"cr_pgd/{s}" for s in CR_SCHEMES]

    setup.log(f"[{setup.label}] overhead + floor: warm-up and pass counting")
    for a, schemes in attacks.items():  # warm-up: one iteration of each
        for s in schemes:
            _attack_call(a, s, setup.model, x, y, 1, eps)()
    counter = PassCounter(setup.model, setup.sync, timing=True)
    counted: dict[str, dict[str, object]] = {}
    for key in floor_keys:
        a, s = key.split("/")
        counter.reset()
        wall, _ = timed(_attack_call(a, s, counter, x, y, steps, eps), setup.sync)
        counted[key] = {
            "passes": counter.passes,
            "wall_s": wall,
            "model_forward_s": counter.forward_s,
            "model_backward_s": counter.backward_s,
        }

    sizes = sorted({b for c in counted.values() for _, b in c["passes"]})
    with torch.no_grad():
        logits_shape = setup.model(x[:1]).shape[1:]
    gen = torch.Generator().manual_seed(0)
    inputs = {b: setup.batch(b)[0] for b in sizes}
    grads = {b: torch.randn((b, *logits_shape), generator=gen).to(x) for b in sizes}
    groups: dict[str, list[Unit]] = {}
    for a, schemes in attacks.items():
        groups[a] = []
        for s in schemes:
            key = f"{a}/{s}"
            unit: Unit = [(key, _attack_call(a, s, setup.model, x, y, steps, eps))]
            if key in counted:  # its bare passes right next to it
                bare = lambda p=counted[key]["passes"]: run_passes(setup.model, p, inputs, grads)  # noqa: E731
                bare()  # warm-up
                unit.insert(0, (f"bare:{key}", bare))
            groups[a].append(unit)
    n_configs = sum(len(unit) for g in groups.values() for unit in g)
    setup.log(f"[{setup.label}] overhead + floor: {n_configs} configurations × {profile.reps}")
    times = _grouped(groups, profile.reps, setup.sync, setup.log)

    overhead: dict[str, object] = {}
    for a in (*OVERHEAD_ATTACKS, "cr_pgd"):
        per = {s: times[f"{a}/{s}"] for s in attacks[a]}
        ratios = overhead_ratios(per, "none")
        lows = overhead_ratios({s: [min(t)] for s, t in per.items()}, "none")  # ratio of minima, a noise check
        overhead[a] = {
            s: {
                "ratio": ratios[s],
                "ratio_of_minima": lows[s],
                "median_s": median(per[s]),
                "per_iter_s": median(per[s]) / steps,
                "times_s": per[s],
            }
            for s in attacks[a]
        }

    floor: dict[str, object] = {}
    for key in floor_keys:
        c = counted[key]
        wall, bare = times[key], times[f"bare:{key}"]
        in_model = c["model_forward_s"] + c["model_backward_s"]
        floor[key] = {
            "passes": {f"{kind}@{b}": n for (kind, b), n in c["passes"].items()},
            "wall_s": median(wall),
            "floor_s": median(bare),
            "ratio": floor_ratio(wall, bare),
            "ratio_of_minima": min(wall) / min(bare),
            "floor_times_s": bare,
            # where the time goes, from the counted (instrumented) run
            "model_forward_share": c["model_forward_s"] / c["wall_s"],
            "model_backward_share": c["model_backward_s"] / c["wall_s"],
            "outside_model_share": max(0.0, 1 - in_model / c["wall_s"]),
        }
    fb = floor["ifgsm/none"]
    n_fb = sum(n for k, n in counted["ifgsm/none"]["passes"].items() if k[0] == "fb")
    return {
        "batch": profile.overhead_batch,
        "steps": steps,
        "eps_255": round(eps * 255, 6),
        "overhead": overhead,
        "weight_cost": weight_cost(setup, x, y, profile, median(times["ifgsm/none"]) / steps),
        "floor": floor,
        "bare_fb_s": fb["floor_s"] / n_fb,  # one bare forward+backward at the batch size, from I-FGSM's bare run
    }


def weight_cost(
    setup: Setup, x: torch.Tensor, y: torch.Tensor, profile: Profile, iteration_s: float
) -> dict[str, object]:
    """The weighting alone: the loss of each scheme and its gradient on fixed logits, without the model.

    Short calls, so many repetitions: a precise view of what a scheme adds per iteration. ``implied_ratio`` is
    1 + (its cost − the cost of ``"none"``) / ``iteration_s`` (I-FGSM's median time per iteration). With a
    ``setup.reference`` (a full-size architecture), ``reference_ratio`` is the same with one bare
    forward+backward of that network on the same batch in place of ``iteration_s``: the overhead the scheme
    would add there (the weighting's cost depends on the logits' shape only).
    """
    with torch.no_grad():
        logits = setup.model(x)

    def call(scheme: Weighting) -> Callable[[], object]:
        def run() -> None:
            lg = logits.detach().requires_grad_(True)
            torch.autograd.grad(scheme.loss(lg, y, step=(1, 2), validate=False).sum(), lg)

        return run

    configs = {s: call(Weighting(s)) for s in PAPER_SCHEMES}
    for c in configs.values():
        c()
    times = _interleaved(configs, profile.component_reps, setup.sync)
    base = median(times["none"])
    out: dict[str, object] = {
        "iteration_s": iteration_s,
        "schemes": {
            s: {
                "median_s": median(t),
                "extra_s": median(t) - base,
                "implied_ratio": 1 + (median(t) - base) / iteration_s,
            }
            for s, t in times.items()
        },
    }
    if setup.reference is not None and profile.reference_reps > 0:
        name, ref = setup.reference
        grad = torch.randn(logits.shape, generator=torch.Generator().manual_seed(0)).to(logits)
        setup.log(
            f"[{setup.label}] weighting cost against a bare forward+backward of {name} × {profile.reference_reps}"
        )
        bare_forward_backward(ref, x, grad)  # warm-up
        ref_s = median(
            _interleaved({"ref": lambda: bare_forward_backward(ref, x, grad)}, profile.reference_reps, setup.sync)[
                "ref"
            ]
        )
        out["reference"] = {"model": name, "weights": "random", "bare_fb_s": ref_s}
        for r in out["schemes"].values():
            r["reference_ratio"] = 1 + r["extra_s"] / ref_s
    return out


# --- 3: batching ----------------------------------------------------------------------------------------------


def batching(setup: Setup, profile: Profile) -> dict[str, object]:
    """I-FGSM (paper's iterations at ``batching_eps``) images per second at each batch size."""
    eps = profile.batching_eps
    steps = ifgsm_steps(eps)
    rows: dict[str, dict[str, object]] = {}
    configs = {}
    for b in profile.batch_sizes:
        x, y = setup.batch(b)
        try:
            ifgsm(setup.model, x, y, eps=eps, steps=1)  # warm-up
        except RuntimeError as exc:
            if not _is_oom(exc):
                raise
            rows[str(b)] = {"status": f"out of memory: {str(exc).splitlines()[0]}"}
            torch.cuda.empty_cache()
            continue
        configs[str(b)] = lambda x=x, y=y: ifgsm(setup.model, x, y, eps=eps, steps=steps)
    setup.log(f"[{setup.label}] batching: batch sizes {list(configs)} × {profile.batching_reps}")
    times = _interleaved(configs, profile.batching_reps, setup.sync, setup.log)
    base = images_per_second(int(next(iter(times))), times[next(iter(times))]) if times else math.nan
    for key, t in times.items():
        ips = images_per_second(int(key), t)
        rows[key] = {"status": "ok", "median_s": median(t), "images_per_s": ips, "speedup": ips / base, "times_s": t}
    return {"eps_255": round(eps * 255, 6), "steps": steps, "rows": rows}


# --- 4: peers ---------------------------------------------------------------------------------------------------


def _skipped(peer: Peer) -> dict[str, object]:
    return {"status": "skipped", "reason": peer.reason, "peer": peer.as_record()}


def _compare(
    setup: Setup,
    ours: Callable[[], torch.Tensor],
    theirs: Callable[[], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    reps: int,
    peer: Peer,
    params: dict[str, object],
) -> dict[str, object]:
    last: dict[str, object] = {}
    times = _interleaved({"ours": ours, "peer": theirs}, reps, setup.sync, results=last)
    adv_ours, adv_peer = last["ours"], last["peer"]
    a_ours, a_peer = _pooled_apsr(setup.model, adv_ours, y), _pooled_apsr(setup.model, adv_peer, y)
    return {
        "status": "ok",
        "peer": peer.as_record(),
        "params": params,
        "batch": int(x.shape[0]),
        "ours_s": median(times["ours"]),
        "peer_s": median(times["peer"]),
        "time_ratio": paired_ratio(times["ours"], times["peer"]),
        "time_ratio_of_minima": min(times["ours"]) / min(times["peer"]),
        "apsr_ours": a_ours,
        "apsr_peer": a_peer,
        "apsr_diff_points": 100 * (a_ours - a_peer),
        "linf_255_ours": _linf_255(adv_ours, x),
        "linf_255_peer": _linf_255(adv_peer, x),
        "max_abs_diff_255": float((adv_ours - adv_peer).abs().max()) * 255,
        "times_s": times,
    }


def _alma_apsr_over_images(setup: Setup, n: int, steps: int, peer: Peer, jitter: float = 1e-6) -> dict[str, object]:
    """Pooled APSR of our and the peer's ALMA prox over the first ``n`` images, each attacked alone (batch 1).

    Also ours on the same images moved by ``jitter`` (Gaussian, fixed seed): two runs of one faithful
    implementation differ by about as much as ``jitter_points``, which puts ``apsr_diff_points`` in proportion.
    """
    x, y = setup.batch(n)
    moved = (x + jitter * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(x.device)).clamp(0, 1)
    advs: dict[str, list[torch.Tensor]] = {"ours": [], "peer": [], "ours_jittered": []}
    for i in range(n):
        xi, yi = x[i : i + 1], y[i : i + 1]
        advs["ours"].append(alma_prox(setup.model, xi, yi, steps=steps))
        advs["peer"].append(peer.attack(setup.model, xi, yi, num_steps=steps))
        advs["ours_jittered"].append(alma_prox(setup.model, moved[i : i + 1], yi, steps=steps))
    apsr_of = {k: _pooled_apsr(setup.model, torch.cat(v), y) for k, v in advs.items()}
    per_image = [
        100 * (_pooled_apsr(setup.model, a, y[i : i + 1]) - _pooled_apsr(setup.model, b, y[i : i + 1]))
        for i, (a, b) in enumerate(zip(advs["ours"], advs["peer"], strict=True))
    ]
    return {
        "apsr_images": n,
        "apsr_ours": apsr_of["ours"],
        "apsr_peer": apsr_of["peer"],
        "apsr_diff_points": 100 * (apsr_of["ours"] - apsr_of["peer"]),
        "apsr_diff_points_per_image": per_image,
        "jitter": jitter,
        "jitter_points": 100 * (apsr_of["ours_jittered"] - apsr_of["ours"]),
    }


def peers_section(setup: Setup, profile: Profile, peers: dict[str, Peer]) -> dict[str, object]:
    """torchattacks' BIM and PGD against our ifgsm / pgd, adv_lib's alma_prox against ours."""
    out: dict[str, object] = {}
    model = setup.model
    x, y = setup.batch(profile.peer_batch)
    eps = profile.eps

    def versus(attack: str, peer: Peer, steps: int, ours: Callable, theirs: Callable, params: dict[str, object],
               warm_up: Callable | None = None) -> dict[str, object]:  # fmt: skip
        """Our ``attack`` against a torchattacks peer on the batch (x, y), or the peer's skip record.

        ``warm_up`` runs before the timing; by default one call of each.
        """
        if not peer.available:
            setup.log(f"[{setup.label}] peers: {peer.name} skipped: {peer.reason}")
            return _skipped(peer)
        setup.log(f"[{setup.label}] peers: {attack} vs {peer.name} ({steps} steps) × {profile.peer_reps}")
        if warm_up is None:
            ours(), theirs()
        else:
            warm_up()
        return _compare(setup, ours, theirs, x, y, profile.peer_reps, peer, params)

    steps, bim = ifgsm_steps(eps), peers["BIM"]
    out["ifgsm"] = versus(
        "ifgsm",
        bim,
        steps,
        lambda: ifgsm(model, x, y, eps=eps, alpha=1 / 255, steps=steps),
        lambda: bim.attack(model, x, y, eps=eps, alpha=1 / 255, steps=steps),
        {"eps_255": eps * 255, "alpha_255": 1.0, "steps": steps},
    )
    pgd_steps, peer_pgd = profile.peer_pgd_steps, peers["PGD"]
    out["pgd"] = versus(
        "pgd",
        peer_pgd,
        pgd_steps,
        lambda: pgd(model, x, y, eps=eps, steps=pgd_steps, rel_step=1 / 30),
        lambda: peer_pgd.attack(model, x, y, eps=eps, alpha=eps / 30, steps=pgd_steps),
        {"eps_255": eps * 255, "alpha": "eps/30", "steps": pgd_steps, "random_start": False},
        warm_up=lambda: (
            pgd(model, x, y, eps=eps, steps=1),
            peer_pgd.attack(model, x, y, eps=eps, alpha=eps / 30, steps=1),
        ),  # fmt: skip
    )

    steps = profile.peer_alma_steps
    peer = peers["alma_prox"]
    xa, ya = setup.batch(profile.peer_alma_batch)
    if peer.available:
        setup.log(f"[{setup.label}] peers: alma_prox vs {peer.name} ({steps} steps) × {profile.peer_alma_reps}")
        try:
            warm, _ = timed(lambda: peer.attack(model, xa, ya, num_steps=2), setup.sync)  # compiles its prox
        except Exception as exc:  # e.g. inductor cannot compile on this machine
            out["alma_prox"] = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "peer": peer.as_record()}
        else:
            alma_prox(model, xa, ya, steps=2)
            ours = lambda: alma_prox(model, xa, ya, steps=steps)  # noqa: E731
            theirs = lambda: peer.attack(model, xa, ya, num_steps=steps)  # noqa: E731
            params = {"steps": steps, "adv_threshold": 0.99, "other": "both libraries' defaults"}
            out["alma_prox"] = _compare(setup, ours, theirs, xa, ya, profile.peer_alma_reps, peer, params)
            out["alma_prox"]["peer_first_call_s"] = warm  # torch.compile of adv_lib's prox, excluded from peer_s
            setup.log(f"[{setup.label}] peers: alma_prox APSR over {profile.peer_alma_images} images, one at a time")
            out["alma_prox"].update(_alma_apsr_over_images(setup, profile.peer_alma_images, steps, peer))
    else:
        setup.log(f"[{setup.label}] peers: {peer.name} skipped: {peer.reason}")
        out["alma_prox"] = _skipped(peer)
    return out


# --- 5: the paper's runtime claim -------------------------------------------------------------------------------


def paper_claim(setup: Setup, profile: Profile) -> dict[str, object]:
    """Seconds per image of I-FGSM ε=16 + L0 and of ALMA prox + L0 (500 steps), batch 1, and their APSR."""
    model, w = setup.model, profile.paper_weighting
    eps = profile.paper_ifgsm_eps
    steps = ifgsm_steps(eps)
    n = profile.paper_images
    setup.log(
        f"[{setup.label}] paper claim: {n} image(s), I-FGSM ε={eps * 255:g} + {w} ({steps} steps) × "
        f"{profile.paper_ifgsm_reps}, ALMA prox + {w} ({profile.paper_alma_steps} steps) × 1"
    )
    x_all, y_all = setup.batch(n)
    ifgsm(model, x_all[:1], y_all[:1], eps=eps, steps=1, weighting=w)
    alma_prox(model, x_all[:1], y_all[:1], steps=2, weighting=w)
    res: dict[str, dict[str, list]] = {"ifgsm": {"s": [], "adv": []}, "alma_prox": {"s": [], "adv": []}}
    for i in range(n):
        x, y = x_all[i : i + 1], y_all[i : i + 1]
        last: dict[str, object] = {}
        t = _interleaved(
            {"ifgsm": lambda x=x, y=y: ifgsm(model, x, y, eps=eps, steps=steps, weighting=w)},
            profile.paper_ifgsm_reps,
            setup.sync,
            results=last,
        )["ifgsm"]
        res["ifgsm"]["s"].append(median(t))
        res["ifgsm"]["adv"].append(last["ifgsm"])
        seconds, adv = timed(
            lambda x=x, y=y: alma_prox(model, x, y, steps=profile.paper_alma_steps, weighting=w), setup.sync
        )
        res["alma_prox"]["s"].append(seconds)
        res["alma_prox"]["adv"].append(adv)
        setup.log(f"  image {i + 1}/{n}: I-FGSM {res['ifgsm']['s'][-1]:.2f} s, ALMA prox {seconds:.1f} s")
    out: dict[str, object] = {"images": n, "weighting": w}
    for name, r in res.items():
        adv = torch.cat(r["adv"])
        out[name] = {
            "params": {"eps_255": eps * 255, "alpha_255": 1.0, "steps": steps}
            if name == "ifgsm"
            else {"steps": profile.paper_alma_steps},
            "s_per_image": sum(r["s"]) / n,
            "apsr": _pooled_apsr(model, adv, y_all),
            "linf_255": _linf_255(adv, x_all),
        }
    out["time_share"] = out["ifgsm"]["s_per_image"] / out["alma_prox"]["s_per_image"]
    out["apsr_diff_points"] = 100 * (out["ifgsm"]["apsr"] - out["alma_prox"]["apsr"])
    return out


# --- 6: APGD against PGD ---------------------------------------------------------------------------------------


def apgd_vs_pgd(setup: Setup, profile: Profile) -> dict[str, object]:
    """APGD's time per forward+backward pass over PGD's, per scheme, at ``overhead_batch`` and ε = ``eps``.

    Both run ``apgd_steps`` iterations (APGD evaluates the start too: one pass more, counted from its
    ``AttackInfo``). Per repetition each scheme's PGD and APGD run back to back; the ratio is the median over
    repetitions of the ratio of their times per pass.
    """
    x, y = setup.batch(profile.overhead_batch)
    steps, eps = profile.apgd_steps, profile.eps
    info = AttackInfo()
    calls: dict[str, Callable[[], object]] = {}
    for s in profile.apgd_schemes:
        calls[f"pgd/{s}"] = lambda s=s: pgd(setup.model, x, y, eps=eps, steps=steps, weighting=s)
        calls[f"apgd/{s}"] = lambda s=s: apgd(setup.model, x, y, eps=eps, steps=steps, weighting=s, info=info)
    for call in calls.values():  # warm-up
        call()
    apgd_passes = info.iterations
    groups = {s: [[(f"pgd/{s}", calls[f"pgd/{s}"]), (f"apgd/{s}", calls[f"apgd/{s}"])]] for s in profile.apgd_schemes}
    setup.log(f"[{setup.label}] APGD vs PGD: {len(calls)} configurations × {profile.reps}")
    times = _grouped(groups, profile.reps, setup.sync, setup.log)
    rows = {}
    for s in profile.apgd_schemes:
        per_pass_apgd = [t / apgd_passes for t in times[f"apgd/{s}"]]
        per_pass_pgd = [t / steps for t in times[f"pgd/{s}"]]
        rows[s] = {
            "apgd_ms_per_pass": 1000 * median(per_pass_apgd),
            "pgd_ms_per_pass": 1000 * median(per_pass_pgd),
            "ratio": paired_ratio(per_pass_apgd, per_pass_pgd),
            "apgd_times_s": times[f"apgd/{s}"],
            "pgd_times_s": times[f"pgd/{s}"],
        }
    return {"batch": profile.overhead_batch, "steps": steps, "apgd_passes": apgd_passes, "rows": rows}


SECTIONS = ("overhead", "batching", "peers", "paper", "apgd")  # "overhead" holds sections 1 (overhead) and 2 (floor)
# slow on a CPU (a full-size network at 512×1024 and more): only when asked for
OPTIONAL_SECTIONS = ("fullsize", "memory")


def run_sections(
    setup: Setup, profile: Profile, peers: dict[str, Peer], sections: tuple[str, ...] = SECTIONS
) -> dict[str, object]:
    """Run the chosen sections on ``setup``; each result carries its own wall time."""
    import time

    unknown = set(sections) - set(SECTIONS) - set(OPTIONAL_SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {SECTIONS + OPTIONAL_SECTIONS}")
    out: dict[str, object] = {"label": setup.label, "info": setup.info, "section_wall_s": {}}
    for name in SECTIONS + OPTIONAL_SECTIONS:
        if name not in sections:
            continue
        start = time.perf_counter()
        if name == "overhead":
            result = overhead_and_floor(setup, profile)
        elif name == "batching":
            result = batching(setup, profile)
        elif name == "apgd":
            result = apgd_vs_pgd(setup, profile)
        elif name == "peers":
            result = peers_section(setup, profile, peers)
        elif name == "fullsize":
            result = fullsize_overhead(
                tuple(profile.fullsize_size), profile.fullsize_steps, profile.fullsize_reps, setup.device,
                profile.architecture(), profile.component_reps, setup.log,
            )  # fmt: skip
        elif name == "memory":
            result = iteration_memory(
                profile.sizes(), ("none", "checkpoint"), setup.device, profile.memory_limit_gb,
                profile.architecture(), log=setup.log,
            )  # fmt: skip
        else:
            result = paper_claim(setup, profile)
        out["section_wall_s"][name] = time.perf_counter() - start
        out[name] = result
    return out


def scaled(profile: Profile, **changes: object) -> Profile:
    """A copy of ``profile`` with ``changes`` (used for the GPU section and by tests)."""
    return replace(profile, **changes)
