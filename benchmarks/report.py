"""The machine description, the speed targets (docs/benchmarks.md §Targets), and a run's JSON and markdown."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from uwl_utils.analysis import markdown_table

__all__ = ["machine", "targets", "to_markdown", "write_results", "TARGETS"]

# The speed targets (docs/benchmarks.md §Targets): limits on ratios; "equal" APSR allows this many points of
# rounding noise.
TARGETS = {
    "overhead": 1.03,  # every non-CR scheme against "none", per iteration
    "floor": 1.10,  # FGSM, I-FGSM, PGD
    "peer_time": 1.0,  # ours / peer's wall time
    "ifgsm_apsr_points": 0.05,  # "equal APSR" for I-FGSM vs BIM
    "alma_apsr_points": 2.0,  # ALMA prox vs adv_lib
    "fullsize_overhead": 1.02,  # every scheme against "none" on the full-size network
}
FLOOR_TARGETED = ("fgsm/none", "ifgsm/none", "pgd/none")
PEER_TIME_TARGETED = ("ifgsm", "alma_prox")  # ours no slower than the peers


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores usable, torch threads, versions, GPU, load average."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": None,
    }
    try:
        info["loadavg_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["cuda"] = {
            "device": props.name,
            "count": torch.cuda.device_count(),
            "version": torch.version.cuda,
            "memory_gib": round(props.total_memory / 2**30, 1),
        }
    return info


def machine_line(info: Mapping[str, Any]) -> str:
    gpu = info.get("cuda")
    gpu_text = f"{gpu['device']} ({gpu['memory_gib']} GiB, CUDA {gpu['version']})" if gpu else "no CUDA device"
    load = info.get("loadavg_1_5_15")
    load_text = f", load average {load[0]} / {load[1]} / {load[2]} at start" if load else ""
    return (
        f"{info['cpu']}, {info['cpu_usable']} of {info['cpu_count']} cores usable, {info['torch_threads']} torch "
        f"threads; {gpu_text}; {info['platform']}, Python {info['python']}, torch {info['torch']}{load_text}"
    )


# --- targets ----------------------------------------------------------------------------------------------------


def _row(where: str, name: str, value: float | None, limit: float | None, met: bool | None, note: str = "") -> dict:
    return {"where": where, "target": name, "value": value, "limit": limit, "met": met, "note": note}


def _weight_cost_note(over: Mapping[str, Any]) -> str:
    """The worst scheme's overhead as the weighting-alone measurement implies it (here, and full-size)."""
    wc = over.get("weight_cost")
    if not wc:
        return ""
    worst = max((s for s in wc["schemes"] if s != "none"), key=lambda s: wc["schemes"][s]["extra_s"])
    r = wc["schemes"][worst]
    note = f"; weighting alone: worst {worst}, implied {r['implied_ratio']:.3f} here"
    if "reference_ratio" in r:
        note += f", {r['reference_ratio']:.3f} with full-size {wc['reference']['model']}"
    return note


def targets(run: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """Each of the targets that ``run`` (one setup's sections) measured: value, limit, met."""
    rows: list[dict[str, Any]] = []
    over = run.get("overhead")
    if over:
        for attack in ("ifgsm", "pgd", "alma_prox"):
            schemes = {s: r["ratio"] for s, r in over["overhead"][attack].items() if s != "none"}
            worst = max(schemes, key=schemes.get)
            rows.append(
                _row(
                    where,
                    f"weighting overhead {attack} (worst non-CR scheme)",
                    schemes[worst],
                    TARGETS["overhead"],
                    schemes[worst] <= TARGETS["overhead"],
                    f"worst: {worst}" + _weight_cost_note(over),
                )
            )
        cr = over["overhead"]["cr_pgd"]["CR"]["ratio"]
        rows.append(_row(where, "CR weighting overhead cr_pgd (paper: 1.4×)", cr, None, None, "reported, no target"))
        for key, r in over["floor"].items():
            limit = TARGETS["floor"] if key in FLOOR_TARGETED else None
            rows.append(
                _row(
                    where,
                    f"floor ratio {key.split('/')[0] if key.endswith('/none') else key}",
                    r["ratio"],
                    limit,
                    None if limit is None else r["ratio"] <= limit,
                    "" if limit else "reported, no target",
                )
            )
    peers = run.get("peers")
    if peers:
        for attack, apsr_key in (("ifgsm", "ifgsm_apsr_points"), ("pgd", None), ("alma_prox", "alma_apsr_points")):
            r = peers[attack]
            if r["status"] != "ok":
                rows.append(
                    _row(where, f"{attack} vs {r['peer']['name']}", None, None, None, f"{r['status']}: {r['reason']}")
                )
                continue
            peer = r["peer"]["name"]
            if attack in PEER_TIME_TARGETED:
                rows.append(
                    _row(
                        where,
                        f"time ratio {attack} / {peer}",
                        r["time_ratio"],
                        TARGETS["peer_time"],
                        r["time_ratio"] <= TARGETS["peer_time"],
                    )
                )
            else:
                rows.append(
                    _row(
                        where,
                        f"time ratio {attack} / {peer}",
                        r["time_ratio"],
                        None,
                        None,
                        "reported, no target; ours also tracks the best iterate (an argmax per step)",
                    )
                )
            diff = r["apsr_diff_points"]
            if apsr_key:
                limit = TARGETS[apsr_key]
                note = ""
                if "jitter_points" in r:
                    note = (
                        f"over {r['apsr_images']} images, each alone; ours against itself on inputs moved by "
                        f"{r['jitter']:g}: {r['jitter_points']:+.2f} points"
                    )
                rows.append(
                    _row(where, f"|APSR {attack} − {peer}| (points)", abs(diff), limit, abs(diff) <= limit, note)
                )
            else:
                rows.append(
                    _row(
                        where,
                        f"APSR {attack} − {peer} (points)",
                        diff,
                        None,
                        None,
                        "ours: the best evaluated iterate of x0…x(n−1) (as the ALMA prox framework's PGD); "
                        "the peer: x(n)",
                    )
                )
    paper = run.get("paper")
    if paper:
        eps, w = paper["ifgsm"]["params"]["eps_255"], paper["weighting"]
        rows.append(
            _row(
                where,
                f"I-FGSM ε={eps:g} + {w} time / ALMA prox + {w} time (paper: 3–5 %)",
                paper["time_share"],
                None,
                None,
                f"APSR {100 * paper['ifgsm']['apsr']:.1f} % vs {100 * paper['alma_prox']['apsr']:.1f} %",
            )
        )
    full = run.get("fullsize")
    if full:
        worst = max((s for s in full["schemes"] if s != "none"), key=lambda s: full["schemes"][s]["ratio"])
        r = full["schemes"][worst]
        rows.append(
            _row(
                where,
                f"weighting overhead at full size, I-FGSM (worst scheme), {full['size'][0]}×{full['size'][1]}",
                r["ratio"],
                TARGETS["fullsize_overhead"],
                r["ratio"] <= TARGETS["fullsize_overhead"],
                f"worst: {worst} (paired ratios {r['ratio_min']:.3f}–{r['ratio_max']:.3f} over {full['reps']} "
                f"repetitions; implied by the weighting alone {r['implied_ratio']:.3f})",
            )
        )
    return rows


# --- markdown ---------------------------------------------------------------------------------------------------


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def _run_markdown(run: Mapping[str, Any]) -> list[str]:
    lines = [f"### {run['label']}", ""]
    over = run.get("overhead")
    if over:
        schemes = list(over["overhead"]["ifgsm"])
        lines += [
            f"**1. Weighting overhead** — time per iteration with the scheme / with `none` (batch {over['batch']}, "
            f"{over['steps']} iterations per run, ε = {over['eps_255']:g}/255)",
            "",
        ]
        rows = []
        for attack, per in over["overhead"].items():
            cells = [f"`{attack}`", f"{1000 * per['none']['per_iter_s']:.1f}"]
            cells += [
                f"{per[s]['ratio']:.3f} ({per[s]['ratio_of_minima']:.3f})" if s in per else "" for s in schemes[1:]
            ]
            cells.append(f"{per['CR']['ratio']:.3f} ({per['CR']['ratio_of_minima']:.3f})" if "CR" in per else "")
            rows.append(cells)
        lines += markdown_table(["attack", "ms/iter (none)", *schemes[1:], "CR"], rows)
        lines += [
            "",
            "Median over repetitions of the ratio to `none` in the same repetition (in brackets: ratio of the fastest "
            "runs, a check on the machine's noise).",
            "",
        ]
        wc = over["weight_cost"]["schemes"]
        lines += [
            "The weighting alone (loss + its gradient on fixed logits, no model; many repetitions), and the "
            "overhead it implies per iteration:",
            "",
        ]
        rows = [
            ["ms per call", *(f"{1000 * r['median_s']:.1f}" for r in wc.values())],
            ["ms more than none", *(f"{1000 * r['extra_s']:+.1f}" for r in wc.values())],
            ["ratio implied for I-FGSM here", *(_f(r["implied_ratio"]) for r in wc.values())],
        ]
        ref = over["weight_cost"].get("reference")
        if ref:
            rows.append(
                [
                    f"ratio implied with full-size {ref['model']} (bare fwd+bwd {ref['bare_fb_s']:.2f} s)",
                    *(_f(r["reference_ratio"]) for r in wc.values()),
                ]
            )
        lines += markdown_table(["", *wc], rows) + [""]
        lines += [
            "**2. Floor ratio** — wall time / the same passes run bare (median of ratios paired by repetition; "
            "in brackets: ratio of the fastest runs); where the time goes (instrumented run): model forward, "
            "model backward, outside the model",
            "",
        ]
        rows = []
        for key, r in over["floor"].items():
            passes = ", ".join(f"{n} {k}" for k, n in r["passes"].items())
            rows.append(
                [
                    f"`{key}`",
                    passes,
                    _f(r["wall_s"]),
                    _f(r["floor_s"]),
                    f"{r['ratio']:.3f} ({r['ratio_of_minima']:.3f})",
                    _pct(r["model_forward_share"]),
                    _pct(r["model_backward_share"]),
                    _pct(r["outside_model_share"]),
                ]
            )
        lines += markdown_table(
            ["attack/scheme", "passes (kind@batch)", "wall s", "floor s", "ratio", "fwd %", "bwd %", "outside %"], rows
        )
        lines += ["", f"One bare forward+backward at batch {over['batch']}: {1000 * over['bare_fb_s']:.1f} ms.", ""]
    bat = run.get("batching")
    if bat:
        lines += [f"**3. Batching** — I-FGSM ε = {bat['eps_255']:g}/255, {bat['steps']} iterations", ""]
        rows = []
        for b, r in bat["rows"].items():
            if r["status"] != "ok":
                rows.append([b, "–", "–", "–", r["status"]])
            else:
                rows.append([b, _f(r["median_s"]), _f(r["images_per_s"], 2), _f(r["speedup"], 2), ""])
        lines += markdown_table(["batch", "s per run", "images/s", "vs batch 1", "note"], rows) + [""]
    peers = run.get("peers")
    if peers:
        lines += [
            "**4. Peers** — same model, images and parameters; time ratio ours / peer's (median of ratios paired by "
            "repetition; in brackets: ratio of the fastest runs); APSR pooled over the batch",
            "",
        ]
        rows = []
        for attack, r in peers.items():
            if r["status"] != "ok":
                rows.append(
                    [
                        f"`{attack}` vs {r['peer']['name']}",
                        "–",
                        "–",
                        "–",
                        "–",
                        "–",
                        "–",
                        f"{r['status']}: {r['reason']}",
                    ]
                )
                continue
            peer = f"{r['peer']['name']} {r['peer']['version'] or ''}".strip()
            params = ", ".join(f"{k}={_f(v, 4) if isinstance(v, float) else v}" for k, v in r["params"].items())
            note = f"batch {r['batch']}; {params}; max |Δadv| {r['max_abs_diff_255']:.2f}/255"
            if "apsr_images" in r:
                note += (
                    f"; APSR over {r['apsr_images']} images, each alone (per image Δ "
                    + ", ".join(f"{d:+.2f}" for d in r["apsr_diff_points_per_image"])
                    + f"; ours on inputs moved by {r['jitter']:g}: {r['jitter_points']:+.2f})"
                )
            if "peer_first_call_s" in r:
                note += f"; peer's first call (torch.compile) {r['peer_first_call_s']:.1f} s, excluded"
            rows.append(
                [
                    f"`{attack}` vs {peer}",
                    _f(r["ours_s"]),
                    _f(r["peer_s"]),
                    f"{r['time_ratio']:.3f} ({r['time_ratio_of_minima']:.3f})",
                    _pct(r["apsr_ours"], 2),
                    _pct(r["apsr_peer"], 2),
                    f"{r['apsr_diff_points']:+.2f}",
                    note,
                ]
            )
        lines += markdown_table(
            ["comparison", "ours s", "peer s", "ratio", "APSR ours %", "APSR peer %", "Δ points", "note"], rows
        ) + [""]
    paper = run.get("paper")
    if paper:
        lines += [
            f"**5. Paper's runtime claim** — batch 1, {paper['images']} image(s), weighting {paper['weighting']}",
            "",
        ]
        rows = []
        for name in ("ifgsm", "alma_prox"):
            r = paper[name]
            params = ", ".join(f"{k}={_f(v, 4) if isinstance(v, float) else v}" for k, v in r["params"].items())
            linf = sorted(r["linf_255"])[len(r["linf_255"]) // 2]
            rows.append([f"`{name}` ({params})", _f(r["s_per_image"]), _pct(r["apsr"]), f"{linf:.2f}"])
        lines += markdown_table(["attack", "s/image", "APSR %", "median ‖δ‖∞ ×255"], rows)
        lines += [
            "",
            f"I-FGSM takes {100 * paper['time_share']:.1f} % of ALMA prox's time (paper: 3–5 %); APSR "
            f"difference {paper['apsr_diff_points']:+.1f} points.",
            "",
        ]
    ap = run.get("apgd")
    if ap:
        lines += [
            f"**6. APGD vs PGD** — time per forward+backward pass, APGD / PGD (batch {ap['batch']}, {ap['steps']} "
            f"iterations: PGD {ap['steps']} passes, APGD {ap['apgd_passes']}; median of ratios paired by repetition)",
            "",
        ]
        rows = [
            [f"`{s}`", f"{r['pgd_ms_per_pass']:.1f}", f"{r['apgd_ms_per_pass']:.1f}", f"{r['ratio']:.3f}"]
            for s, r in ap["rows"].items()
        ]
        lines += markdown_table(["weighting", "PGD ms/pass", "APGD ms/pass", "ratio"], rows) + [""]
    return lines + _fullsize_markdown(run)


def _fullsize_markdown(run: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    full = run.get("fullsize")
    if full:
        lines += [
            f"**7. Weighting overhead at full size** — I-FGSM on {full['model']} {full['overrides']} (random weights), "
            f"{full['size'][0]}×{full['size'][1]}, batch 1, {full['steps']} iteration(s) per run, {full['reps']} "
            f"repetitions; {full['per_iter_s_none']:.2f} s per iteration with `none`",
            "",
        ]
        rows = [
            [s, _f(r["ratio"]), f"{r['ratio_min']:.3f}–{r['ratio_max']:.3f}", _f(r["implied_ratio"])]
            for s, r in full["schemes"].items()
        ]
        header = ["scheme", "time / none (median of paired)", "spread", "implied by the weighting alone"]
        lines += markdown_table(header, rows)
        lines += [""]
    mem = run.get("memory")
    if mem:
        lines += [
            f"**8. Memory of one I-FGSM iteration** — {mem['model']} {mem['overrides']} (random weights), batch 1, "
            f"{mem['measure']}; a size predicted above {mem['limit_gb']:g} GB is skipped",
            "",
        ]
        rows = []
        for size, modes in mem["sizes"].items():
            for mode, r in modes.items():
                if r["status"] == "ok":
                    rows.append([size, mode, f"{r['peak_gb']:.2f}", f"{r['base_gb']:.2f}", _f(r.get("ratio")),
                                 f"{r['seconds']:.1f}", _f(r.get("time_ratio")), ""])  # fmt: skip
                else:
                    rows.append([size, mode, "", "", "", "", "", r.get("reason", r["status"])])
        lines += markdown_table(
            ["size", "memory_saving", "peak GB", "base GB", "(peak − base) / none's", "s", "time / none's", "note"],
            rows,
        )
        lines += [""]
    return lines


def to_markdown(result: Mapping[str, Any]) -> str:
    """The whole result as markdown: machine, every setup's sections, the targets."""
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine_line(result['machine'])}.",
        "",
        f"Profile `{result['profile']['name']}`, {result['profile']['reps']} repetitions per timing (medians); "
        f"total wall time {result['wall_s']:.0f} s; written {result['created']}.",
        "",
    ]
    for run in result["runs"]:
        lines += _run_markdown(run)
    for where, reason in result.get("skipped", {}).items():
        lines += [f"### {where}", "", f"Skipped: {reason}.", ""]
    lines += ["### Targets", ""]
    rows = [
        [
            t["where"],
            t["target"],
            _f(t["value"]),
            _f(t["limit"], 2),
            {True: "yes", False: "**no**", None: "–"}[t["met"]],
            t["note"],
        ]
        for t in result["targets"]
    ]
    lines += markdown_table(["where", "target", "value", "limit", "met", "note"], rows) + [""]
    return "\n".join(lines)


# --- files ------------------------------------------------------------------------------------------------------


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf -> None, tuples -> lists, tuple keys -> strings, tensors -> numbers/lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {("@".join(map(str, k)) if isinstance(k, tuple) else str(k)): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _clean(obj.tolist())
    return obj


def write_results(
    result: Mapping[str, Any],
    out_dir: str | Path,
    name: str = "latest",
    markdown: Callable[[Mapping[str, Any]], str] | None = None,
) -> tuple[Path, Path]:
    """``out_dir/name.json`` (everything, raw timings included) and ``out_dir/name.md`` (``markdown``, default
    :func:`to_markdown`); returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(_clean(result), indent=1, allow_nan=False) + "\n")
    md_path.write_text((markdown or to_markdown)(result))
    return json_path, md_path
