"""Classes, colour sets and the part-building helpers shared by every VOC object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageDraw

from uwl_utils.data.classes import VOC_CLASSES
from uwl_utils.data.synthetic.render import (
    RGB,
    Ellipse,
    Group,
    Line,
    Paint,
    Part,
    Point,
    Shape,
    dome_light,
    flat,
    place,
    rgb255,
    textured,
    vary,
)

HEIGHT, WIDTH, SCALE = 128, 128, 2

(AEROPLANE, BICYCLE, BIRD, BOAT, BOTTLE, BUS, CAR, CAT, CHAIR, COW, DININGTABLE, DOG, HORSE, MOTORBIKE, PERSON,
 POTTEDPLANT, SHEEP, SOFA, TRAIN, TVMONITOR) = range(1, 21)  # fmt: skip
assert VOC_CLASSES[TVMONITOR] == "tvmonitor" and VOC_CLASSES[COW] == "cow"

WHITE, BLACK = (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)
DARK, TYRE, METAL = rgb255(30, 30, 32), rgb255(22, 22, 24), rgb255(175, 178, 185)
GLASS = rgb255(45, 60, 80)
PAINTS = tuple(rgb255(*c) for c in (
    (200, 30, 30), (30, 60, 150), (235, 235, 235), (25, 25, 28), (150, 150, 155), (40, 120, 60), (230, 180, 30),
    (230, 110, 30), (110, 30, 40), (90, 140, 200)))  # fmt: skip
CLOTHES = tuple(rgb255(*c) for c in (
    (30, 30, 40), (50, 55, 80), (120, 120, 125), (190, 170, 130), (170, 40, 40), (40, 80, 160), (50, 100, 60),
    (230, 230, 230), (110, 70, 40), (220, 180, 40), (200, 110, 150)))  # fmt: skip
TROUSERS = tuple(rgb255(*c) for c in ((40, 60, 100), (25, 25, 30), (90, 90, 95), (160, 140, 100), (80, 55, 40)))
SKIN = tuple(rgb255(*c) for c in ((240, 200, 170), (220, 170, 130), (180, 130, 90), (120, 80, 55), (90, 60, 40)))
HAIR = tuple(rgb255(*c) for c in ((30, 25, 20), (90, 60, 35), (180, 150, 90), (60, 60, 60), (140, 60, 30)))
WOODS = tuple(rgb255(*c) for c in ((140, 90, 50), (100, 65, 35), (180, 130, 80), (70, 45, 30), (200, 165, 115)))
FABRICS = tuple(
    rgb255(*c)
    for c in ((120, 120, 125), (40, 55, 100), (150, 40, 40), (95, 60, 40), (60, 100, 70), (200, 185, 150), (60, 60, 65))
)
WALLS = tuple(
    rgb255(*c)
    for c in ((225, 220, 205), (200, 210, 215), (235, 225, 190), (190, 200, 180), (215, 190, 170), (170, 170, 175))
)
GREENS = tuple(rgb255(*c) for c in ((70, 110, 35), (55, 95, 40), (90, 125, 45), (100, 120, 40), (60, 85, 45)))
SKIES = tuple(rgb255(*c) for c in ((70, 125, 200), (95, 150, 215), (120, 165, 210), (165, 175, 185)))


def pick(rng: np.random.Generator, options: Sequence[RGB]) -> RGB:
    """A random entry of a colour list, jittered."""
    return vary(options[int(rng.integers(len(options)))], rng, 0.03, 0.15, 0.12)


def tex(rng: np.random.Generator, rgb: RGB, amp: float = 0.08, fld: str = "fine", freq: float = 2.0) -> Paint:
    """A textured paint of a jittered colour."""
    return textured(vary(rgb, rng, 0.02, 0.1, 0.1), rng, amp, fld, freq)


def shade(paint: Paint, factor: float) -> Paint:
    """A paint multiplied by a constant (far legs, undersides)."""
    return lambda ys, xs: paint(ys, xs) * factor


def gradient(top: RGB, bottom: RGB, y0: float, y1: float) -> Paint:
    """A vertical colour ramp between image rows y0 and y1."""
    a, b = np.asarray(top, np.float32), np.asarray(bottom, np.float32)

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        t = np.clip((np.asarray(ys, np.float32) - y0) / max(y1 - y0, 1e-3), 0, 1)
        t = np.broadcast_to(t, np.broadcast_shapes(np.shape(ys), np.shape(xs)))[..., None]
        return a + (b - a) * t

    return paint


def mapped(parts: Sequence[Part], fn: Callable[[Point], Point]) -> list[Part]:
    """Parts with their local coordinates mapped by fn (rotation, mirroring)."""
    return [replace(p, shape=p.shape.mapped(fn, 1.0)) for p in parts]


def rotated(parts: Sequence[Part], angle: float, pivot: Point = (0.0, 0.0)) -> list[Part]:
    """Parts rotated by `angle` radians (counter-clockwise in local, y-up coordinates) about `pivot`."""
    c, s = np.cos(angle), np.sin(angle)
    return mapped(
        parts,
        lambda p: (
            pivot[0] + c * (p[0] - pivot[0]) - s * (p[1] - pivot[1]),
            pivot[1] + s * (p[0] - pivot[0]) + c * (p[1] - pivot[1]),
        ),
    )


def shape_bounds(shape: Shape) -> np.ndarray:
    """Tight (x0, y0, x1, y1) of a shape (render's Line.bounds pads by a pixel, too much in local units)."""
    if isinstance(shape, Group):
        b = np.array([shape_bounds(s) for s in shape.shapes])
        return np.array([*b[:, :2].min(0), *b[:, 2:].max(0)])
    if isinstance(shape, Line):
        pts, r = np.array(shape.points), shape.width / 2
        return np.array([*(pts.min(0) - r), *(pts.max(0) + r)])
    return np.array(shape.bounds())


def bounds(parts: Sequence[Part]) -> tuple[float, float, float, float]:
    """Local bounding box (x0, y0, x1, y1) of parts."""
    x0, y0, x1, y1 = shape_bounds(Group(tuple(p.shape for p in parts))).tolist()
    return x0, y0, x1, y1


def labelled_fill(parts: Sequence[Part], size: int = 64) -> float:
    """Fraction of the local bounding box covered by labelled parts (rasterised at `size` px)."""
    labelled = [p for p in parts if p.label is not None]
    x0, y0, x1, y1 = bounds(labelled)
    s = size / max(x1 - x0, y1 - y0)
    img = Image.new("L", (int((x1 - x0) * s) + 2, int((y1 - y0) * s) + 2), 0)
    draw = ImageDraw.Draw(img)
    for p in place(labelled, -x0 * s, y1 * s, s):
        p.shape.rasterize(draw, lambda q: q)
    return float(np.asarray(img).mean() / 255.0 * img.size[0] * img.size[1] / ((x1 - x0) * (y1 - y0) * s * s))


def disc(cx: float, cy: float, r: float, width: float | None = None) -> Ellipse:
    """A circle (filled, or a ring of `width`)."""
    return Ellipse(cx, cy, r, r, width)


def wheel(rng: np.random.Generator, cx: float, r: float, label: int, hub: RGB = METAL) -> list[Part]:
    """A car-like wheel: dark tyre and a metal hub, resting on y = 0."""
    return [
        Part(disc(cx, r, r), flat(vary(TYRE, rng)), label),
        Part(disc(cx, r, 0.5 * r), tex(rng, hub, 0.1), label, dome_light()),
    ]


@dataclass
class Obj:
    """A built object: labelled parts, unlabelled context drawn first (support, rails) and where it lives."""

    parts: list[Part]
    where: str = "ground"  # ground | sky | water
    under: list[Part] = field(default_factory=list)
