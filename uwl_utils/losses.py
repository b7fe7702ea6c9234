"""Per-pixel losses and weighting schemes (paper Eq. 1, 9, 10; docs/weightings.md).

Every pixel-wise attack maximises

    L(x) = 1/|Z| · Σ_{z ∈ Z} w_z · CE(f(x)_z, y_z),

with Z all pixels of the image (ignore pixels have CE = 0) and the weights w of a scheme:

- ``"none"``: w = 1 on valid pixels (Eq. 1),
- ``"M"``, ``"D"``, ``"Mbar"``, ``"E"``: w = exp(U(x)_z) for the uncertainty measure U (Eq. 9),
- ``"L0"``: w = 0 on pixels already misclassified with confidence ≥ ``l0_threshold``, else 1 (Eq. 10),
- ``"L0+E"``: both, w = L0 mask · exp(E).

Beyond the paper (``MODERN_SCHEMES``, for comparison; each function's docstring cites its source):

- ``"SegPGD"``: w = 1 − λ_t on correctly classified pixels and λ_t on misclassified ones, λ_t = (t − 1)/(2T)
  (Gu et al., ECCV 2022); needs the attack's iteration context ``step=(t, T)``,
- ``"CosPGD"``: w = cos(softmax(z), onehot(y)), detached (Agnihotri et al., ICML 2024),
- ``"MaskCE"``: w = 1 on correctly classified pixels, else 0 (Croce, Singh & Hein, ECCV 2024, "SEA"),
- ``"MaskCE-Bal"``: the MaskCE mask times the per-image class-balancing weight 1 − n_{y_z}/|Z| (same paper),
- ``"JS"``: w = 1, but the per-pixel loss is the Jensen–Shannon divergence JS(softmax(z) ‖ onehot(y)) instead
  of CE (same paper),
- ``"MaskNCL"``: the MaskCE mask on the negative normalised correct logit −z_y/‖z‖₂ instead of CE (same paper,
  L_MNCL); ``"NCL"`` is the same loss unmasked (the loss SEA's release tracks for it).

Schemes that replace the per-pixel loss are listed in ``PIXEL_LOSSES``.

Every scheme keeps the paper's convention: only valid pixels (label ≠ 255) contribute and the per-image sum is
divided by |Z| = H·W.

Weights are recomputed from the current logits at every call. A :class:`Weighting` holds a scheme and the
options that change the science; attacks take either a scheme name or a :class:`Weighting`, and
:meth:`Weighting.as_record` goes into every result row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import cached_property

import torch
import torch.nn.functional as F

from uwl_utils.checks import IGNORE_INDEX, check_labels, check_logits
from uwl_utils.prediction import predicted_class
from uwl_utils.uncertainty import UNCERTAINTIES

__all__ = [
    "Weighting",
    "as_weighting",
    "pixel_weights",
    "pixel_cross_entropy",
    "pixel_js_divergence",
    "pixel_normalized_correct_logit",
    "segpgd_lambda",
    "SCHEMES",
    "PAPER_SCHEMES",
    "MODERN_SCHEMES",
    "PIXEL_LOSSES",
]

Step = tuple[int, int]  # (t, T): iteration t of T, 1-based, for schemes with a schedule


@dataclass(frozen=True)
class _SchemeInputs:
    logits: torch.Tensor  # [N,C,H,W], detached when the weights are
    labels: torch.Tensor  # [N,H,W], ignore pixels already replaced by 0
    valid: torch.Tensor  # [N,H,W] bool
    step: Step | None
    given_log_probs: torch.Tensor | None = None  # log_softmax(logits) when the caller has it (the CE's)

    @cached_property
    def log_probs(self) -> torch.Tensor:
        return self.logits.log_softmax(1) if self.given_log_probs is None else self.given_log_probs

    @cached_property
    def probs(self) -> torch.Tensor:
        return self.log_probs.exp()


def _check_pair(logits: torch.Tensor, labels: torch.Tensor) -> None:
    """Logits [N,C,H,W] and labels [N,H,W] in 0..C-1 or 255 that fit them."""
    check_logits(logits)
    check_labels(labels, logits.shape[1], (logits.shape[0], *logits.shape[2:]))


def _uncertainty_weight(measure: str) -> Callable[[Weighting, _SchemeInputs], torch.Tensor]:
    def weight(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
        if measure == "E":
            return UNCERTAINTIES["E"](x.probs, w.normalize_entropy, x.log_probs).exp()
        return UNCERTAINTIES[measure](x.probs).exp()

    return weight


def _l0_keep(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
    """1 where the pixel keeps its loss: correct, or wrong with confidence below the threshold (Eq. 10)."""
    with torch.no_grad():
        if w.l0_on == "probs":  # p₍₁₎ ≥ threshold, compared in log space (exp of a max is the max of exp)
            confident = x.log_probs.detach().amax(1) >= math.log(w.l0_threshold)
        else:  # the published code: raw max logit, strict ">"
            confident = x.logits.detach().amax(1) > w.l0_threshold
        return (~((predicted_class(x.logits.detach()) != x.labels) & confident)).to(x.logits.dtype)


def _l0_entropy(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
    return _l0_keep(w, x) * _uncertainty_weight("E")(w, x)


# --- beyond the paper: SegPGD, CosPGD and SEA's losses -------------------------------------------------------


def segpgd_lambda(step: Step | None) -> float:
    """SegPGD's schedule λ(t) = (t − 1)/(2T) for iteration t of T, 1-based (Gu et al., ECCV 2022, Sec. 3).

    λ_1 = 0 (only correctly classified pixels count) and λ_T = (T − 1)/(2T) < 1/2.
    """
    if step is None:
        raise ValueError(
            "the SegPGD scheme needs the attack's iteration context: the attack must pass step=(t, T) "
            "(iteration t of T, 1-based) to Weighting.weights / pixel_loss / loss"
        )
    try:
        t, total = (int(v) for v in step)
    except (TypeError, ValueError):
        raise ValueError(f"step must be a pair (t, T) of integers; got {step!r}") from None
    if not 1 <= t <= total:
        raise ValueError(f"step=(t, T) needs 1 <= t <= T; got {step!r}")
    return (t - 1) / (2 * total)


def _correct(x: _SchemeInputs) -> torch.Tensor:
    """1 where the current prediction equals the label (ignore pixels are masked later), no gradient."""
    with torch.no_grad():
        return (predicted_class(x.logits.detach()) == x.labels).to(x.logits.dtype)


def _segpgd(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
    """SegPGD (Gu et al., ECCV 2022, Sec. 3, the SegPGD loss):

        L = (1 − λ(t))/(H·W) · Σ_{z ∈ P^T} CE_z + λ(t)/(H·W) · Σ_{z ∈ P^F} CE_z,   λ(t) = (t − 1)/(2T),

    with P^T / P^F the correctly / wrongly classified (valid) pixels. As weights: 1 − λ(t) on correctly
    classified pixels, λ(t) on misclassified ones. The split into correct and wrong pixels is an argmax, so it
    carries no gradient; CE keeps its gradient. At t = 1 only the correct pixels count (the same as "MaskCE").
    """
    lam = segpgd_lambda(x.step)
    correct = _correct(x)
    return correct * (1 - lam) + (1 - correct) * lam


def _cospgd(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
    """CosPGD (Agnihotri et al., ICML 2024, Alg. 1, untargeted): w_z = cos(ψ(z_z), onehot(y_z)), detached.

    L = (1/|Z|) Σ_z cos(ψ(z_z), onehot(y_z)) · CE_z. ψ is the softmax here (the paper's Alg. 1 and its first
    release apply a sigmoid to the logits; the softmax is the distribution the CE is taken of); with the
    softmax the cosine is p_y/‖p‖₂ ∈ (0, 1]. The paper detaches the weight, so it is always detached here,
    whatever ``detach_weights`` says.
    """
    with torch.no_grad():
        probs = x.probs.detach()
        p_y = probs.gather(1, x.labels.unsqueeze(1)).squeeze(1)
        return p_y / probs.norm(dim=1)


def _mask_ce(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
    """SEA's Mask-CE (Croce, Singh & Hein, ECCV 2024, L_MCE): CE only on pixels still classified correctly.

    L = (1/|Z|) Σ_z 1[argmax_c z_{z,c} = y_z] · CE_z; the mask is detached (an argmax).
    """
    return _correct(x)


def _mask_ce_bal(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
    """SEA's Mask-Bal-CE (Croce, Singh & Hein, ECCV 2024, L_MCE-Bal): Mask-CE with per-image class balancing.

    w_z = 1[argmax_c z_{z,c} = y_z] · (1 − n_{y_z}/|Z|), with n_c the number of valid pixels of the image whose
    label is c and |Z| = H·W, the balancing weight of the authors' release (it down-weights the large classes
    of each image; the release applies it to the unmasked CE, its ``bal-ce-avg``). A detached weight. An image
    made of a single class with no ignore pixels gets w = 0.
    """
    with torch.no_grad():
        _, c, h, wd = x.logits.shape
        onehot = F.one_hot(x.labels, c) * x.valid.unsqueeze(-1)  # [N,H,W,C]
        counts = onehot.sum((1, 2)).to(x.logits.dtype)  # [N,C]
        n_y = counts.gather(1, x.labels.flatten(1)).view_as(x.labels)
        return _correct(x) * (1 - n_y / (h * wd))


def pixel_js_divergence(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-pixel Jensen–Shannon divergence JS(softmax(z) ‖ onehot(y)) [N,H,W], natural log, 0 on ignore pixels (255).

    SEA's JS loss (Croce, Singh & Hein, ECCV 2024, L_JS): JS(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with
    m = (p + q)/2. For q = onehot(y) it depends on p_y only:

        JS = ½ [p_y log p_y − (1 + p_y) log(1 + p_y)] + log 2,

    0 for a one-hot prediction of the label and log 2 when p_y = 0. Computed from ``log_softmax`` so that
    gradients stay finite; clamped at 0 against rounding.
    """
    valid = labels != IGNORE_INDEX
    logp_y = logits.log_softmax(1).gather(1, (labels * valid).unsqueeze(1)).squeeze(1)
    p_y = logp_y.exp()
    js = 0.5 * (p_y * logp_y - (1 + p_y) * torch.log1p(p_y)) + math.log(2)
    return js.clamp_min(0) * valid


def pixel_normalized_correct_logit(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-pixel negative normalised correct logit −z_y/‖z‖₂ [N,H,W], 0 on ignore pixels (255).

    SEA's L_NCL (Croce, Singh & Hein, ECCV 2024): maximising it lowers the label's logit relative to the
    logit vector's length, so it cannot grow by scaling all logits. The norm keeps its gradient, as in the
    authors' release. In [−1, 1].
    """
    valid = labels != IGNORE_INDEX
    z_y = logits.gather(1, (labels * valid).unsqueeze(1)).squeeze(1)
    return -z_y / logits.norm(dim=1).clamp_min(1e-12) * valid


# scheme -> weight function (before masking by the valid pixels); None means w = 1.
def _certified_radius(w: Weighting, x: _SchemeInputs) -> torch.Tensor:
    """The CR framework's weight needs randomized smoothing of the model, not just logits: only cr_pgd has it."""
    raise ValueError(
        'weighting "CR" needs the model (randomized smoothing) and is computed inside '
        "uwl_utils.attacks.cr_pgd only; other attacks take the logit-based schemes"
    )


SCHEMES: dict[str, Callable[[Weighting, _SchemeInputs], torch.Tensor] | None] = {
    "none": None,
    **{m: _uncertainty_weight(m) for m in UNCERTAINTIES},
    "L0": _l0_keep,
    "L0+E": _l0_entropy,
    "SegPGD": _segpgd,
    "CosPGD": _cospgd,
    "MaskCE": _mask_ce,
    "MaskCE-Bal": _mask_ce_bal,
    "JS": None,
    "MaskNCL": _mask_ce,
    "NCL": None,
    "CR": _certified_radius,
}
PAPER_SCHEMES = ("none", "M", "D", "Mbar", "E", "L0", "L0+E")
MODERN_SCHEMES = ("SegPGD", "CosPGD", "MaskCE", "MaskCE-Bal", "JS", "MaskNCL", "NCL")

# scheme -> per-pixel loss (logits, labels) -> [N,H,W], 0 on ignore pixels, for schemes that replace the
# cross-entropy; every other scheme weights pixel_cross_entropy. Attacks that use only the weights (ALMA prox
# weights its constraint penalty, not a CE) see w = 1 for these schemes, i.e. the same as "none".
PIXEL_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "JS": pixel_js_divergence,
    "MaskNCL": pixel_normalized_correct_logit,
    "NCL": pixel_normalized_correct_logit,
}


@dataclass(frozen=True)
class Weighting:
    """A weighting scheme with its options.

    - ``detach_weights``: stop gradients through the weights. ``None`` (default) leaves it to the attack
      (:meth:`resolved`): an attack that *descends* on its weighted objective (ALMA prox minimises
      Σ u·Γ·P(c)) detaches them, since ∇u would push still-correct pixels towards lower uncertainty, i.e. back
      to their class; an attack that ascends lets them flow, as the paper's code does. Used directly
      (:meth:`weights`, :meth:`loss`), ``None`` acts as False.
    - ``normalize_entropy``: divide E by log C (default True, as the paper's code).
    - ``l0_threshold``: confidence above which a misclassified pixel is dropped by L0 (0.75).
    - ``l0_on``: ``"probs"`` compares the softmax confidence with ``≥`` (the paper's text); ``"logits"``
      compares the raw max logit with ``>`` (the published code).

    The options act on the paper's schemes. The schemes of ``MODERN_SCHEMES`` detach their weights as their
    papers do (``detach_weights`` changes nothing there); ``"SegPGD"`` needs ``step=(t, T)`` in every call.
    """

    scheme: str = "none"
    detach_weights: bool | None = None
    normalize_entropy: bool = True
    l0_threshold: float = 0.75
    l0_on: str = "probs"

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown weighting scheme {self.scheme!r}; known schemes: {', '.join(SCHEMES)}")
        if self.l0_on not in ("probs", "logits"):
            raise ValueError(f"l0_on must be 'probs' or 'logits'; got {self.l0_on!r}")
        if self.l0_on == "probs" and not 0 < self.l0_threshold <= 1:
            raise ValueError(f"l0_threshold on probabilities must lie in (0, 1]; got {self.l0_threshold}")

    def resolved(self, descends: bool) -> Weighting:
        """This weighting with ``detach_weights=None`` replaced by the attack's default: ``descends``."""
        return replace(self, detach_weights=descends) if self.detach_weights is None else self

    def weights(
        self, logits: torch.Tensor, labels: torch.Tensor, *, step: Step | None = None, validate: bool = True
    ) -> torch.Tensor:
        """Per-pixel weights [N,H,W]; exactly 0 on ignore pixels."""
        if validate:
            _check_pair(logits, labels)
        return self._weights(logits, labels, step, None)

    def _weights(
        self, logits: torch.Tensor, labels: torch.Tensor, step: Step | None, log_probs: torch.Tensor | None
    ) -> torch.Tensor:
        valid = labels != IGNORE_INDEX
        fn = SCHEMES[self.scheme]
        if fn is None:
            return valid.to(logits.dtype)
        if self.detach_weights:
            logits = logits.detach()
            log_probs = None if log_probs is None else log_probs.detach()
        return fn(self, _SchemeInputs(logits, labels * valid, valid, step, log_probs)) * valid

    def pixel_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, step: Step | None = None, validate: bool = True
    ) -> torch.Tensor:
        """Weighted per-pixel loss w_z · ℓ_z, [N,H,W] (the summand of Eq. 9 / 10).

        ℓ is the cross-entropy, or the scheme's own per-pixel loss from ``PIXEL_LOSSES`` (``"JS"``). The
        cross-entropy's ``log_softmax`` is shared with the weights (one softmax per call, not two).
        """
        if validate:
            _check_pair(logits, labels)
        own_loss = PIXEL_LOSSES.get(self.scheme)
        if own_loss is not None:
            return self._weights(logits, labels, step, None) * own_loss(logits, labels)
        log_probs = logits.log_softmax(1)
        ce = F.nll_loss(log_probs, labels, ignore_index=IGNORE_INDEX, reduction="none")  # = pixel_cross_entropy
        return self._weights(logits, labels, step, log_probs) * ce

    def loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, step: Step | None = None, validate: bool = True
    ) -> torch.Tensor:
        """Per-image attack loss [N]: the weighted per-pixel loss summed and divided by |Z| = H·W."""
        h, w = logits.shape[-2:]
        return self.pixel_loss(logits, labels, step=step, validate=validate).sum((1, 2)) / (h * w)

    def as_record(self) -> dict[str, object]:
        """The scheme and its options, flat, for a result row."""
        rec = asdict(self)
        rec["weighting"] = rec.pop("scheme")
        return rec


def as_weighting(weighting: str | Weighting) -> Weighting:
    """Accept a scheme name or a :class:`Weighting`."""
    if isinstance(weighting, Weighting):
        return weighting
    if isinstance(weighting, str):
        return Weighting(weighting)
    raise ValueError(f"weighting must be a scheme name or a Weighting; got {type(weighting).__name__}")


def pixel_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-pixel cross-entropy [N,H,W], 0 on ignore pixels (255)."""
    return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="none")


def pixel_weights(
    logits: torch.Tensor, labels: torch.Tensor, scheme: str = "none", *, step: Step | None = None, **options
) -> torch.Tensor:
    """Weights [N,H,W] of ``scheme`` for ``logits`` [N,C,H,W] and ``labels`` [N,H,W] (255 = ignore).

    ``options`` are those of :class:`Weighting` (``detach_weights``, ``normalize_entropy``,
    ``l0_threshold``, ``l0_on``).
    """
    return Weighting(scheme, **options).weights(logits, labels, step=step)
