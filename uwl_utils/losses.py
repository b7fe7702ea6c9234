"""Per-pixel losses and weighting schemes (paper Eq. 1, 9, 10).

Every pixel-wise attack maximises

    L(x) = 1/|Z| · Σ_{z ∈ Z} w_z · CE(f(x)_z, y_z),

with Z all pixels of the image (ignore pixels have CE = 0) and the weights w of a scheme:

- ``"none"``: w = 1 on valid pixels (Eq. 1),
- ``"M"``, ``"D"``, ``"Mbar"``, ``"E"``: w = exp(U(x)_z) for the uncertainty measure U (Eq. 9),
- ``"L0"``: w = 0 on pixels already misclassified with confidence ≥ ``l0_threshold``, else 1 (Eq. 10),
- ``"L0+E"``: both, w = L0 mask · exp(E).

Weights are recomputed from the current logits at every call. A :class:`Weighting` holds a scheme and the
options that change the science; attacks take either a scheme name or a :class:`Weighting`, and
:meth:`Weighting.as_record` goes into every result row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from uwl_utils.checks import IGNORE_INDEX, check_labels, check_logits
from uwl_utils.uncertainty import MEASURES

__all__ = ["Weighting", "as_weighting", "pixel_weights", "pixel_cross_entropy", "SCHEMES", "PAPER_SCHEMES"]

Step = tuple[int, int]  # (t, T): iteration t of T, 1-based, for schemes with a schedule


@dataclass(frozen=True)
class _Inputs:
    logits: torch.Tensor  # [N,C,H,W], detached when the weights are
    labels: torch.Tensor  # [N,H,W], ignore pixels already replaced by 0
    valid: torch.Tensor  # [N,H,W] bool
    step: Step | None

    @cached_property
    def probs(self) -> torch.Tensor:
        return self.logits.softmax(1)


def _uncertainty_weight(measure: str) -> Callable[[Weighting, _Inputs], torch.Tensor]:
    def weight(w: Weighting, x: _Inputs) -> torch.Tensor:
        probs = x.probs
        u = MEASURES[measure](probs, w.normalize_entropy) if measure == "E" else MEASURES[measure](probs)
        return u.exp()

    return weight


def _l0_keep(w: Weighting, x: _Inputs) -> torch.Tensor:
    """1 where the pixel keeps its loss: correct, or wrong with confidence below the threshold (Eq. 10)."""
    with torch.no_grad():
        if w.l0_on == "probs":
            conf, pred = x.probs.max(1)
            confident = conf >= w.l0_threshold
        else:  # the published code: raw max logit, strict ">"
            conf, pred = x.logits.max(1)
            confident = conf > w.l0_threshold
        return (~((pred != x.labels) & confident)).to(x.logits.dtype)


def _l0_entropy(w: Weighting, x: _Inputs) -> torch.Tensor:
    return _l0_keep(w, x) * _uncertainty_weight("E")(w, x)


# scheme -> weight function (before masking by the valid pixels); None means w = 1.
SCHEMES: dict[str, Callable[[Weighting, _Inputs], torch.Tensor] | None] = {
    "none": None,
    **{m: _uncertainty_weight(m) for m in MEASURES},
    "L0": _l0_keep,
    "L0+E": _l0_entropy,
}
PAPER_SCHEMES = ("none", "M", "D", "Mbar", "E", "L0", "L0+E")


@dataclass(frozen=True)
class Weighting:
    """A weighting scheme with its options.

    - ``detach_weights``: stop gradients through the weights (default False: the paper's code lets them flow).
    - ``normalize_entropy``: divide E by log C (default True, as the paper's code).
    - ``l0_threshold``: confidence above which a misclassified pixel is dropped by L0 (0.75).
    - ``l0_on``: ``"probs"`` compares the softmax confidence with ``≥`` (the paper's text); ``"logits"``
      compares the raw max logit with ``>`` (the published code).
    """

    scheme: str = "none"
    detach_weights: bool = False
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

    def weights(
        self, logits: torch.Tensor, labels: torch.Tensor, *, step: Step | None = None, validate: bool = True
    ) -> torch.Tensor:
        """Per-pixel weights [N,H,W]; exactly 0 on ignore pixels."""
        if validate:
            check_logits(logits)
            check_labels(labels, logits.shape[1], (logits.shape[0], *logits.shape[2:]))
        valid = labels != IGNORE_INDEX
        fn = SCHEMES[self.scheme]
        if fn is None:
            return valid.to(logits.dtype)
        inputs = _Inputs(logits.detach() if self.detach_weights else logits, labels * valid, valid, step)
        return fn(self, inputs) * valid

    def pixel_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, step: Step | None = None, validate: bool = True
    ) -> torch.Tensor:
        """Weighted per-pixel loss w_z · CE_z, [N,H,W] (the summand of Eq. 9 / 10)."""
        return self.weights(logits, labels, step=step, validate=validate) * pixel_cross_entropy(logits, labels)

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
