"""Procedural Pascal-VOC-like images labelled with the 21 VOC classes (``synth_voc``).

A sample is a cluttered background scene plus 1–4 foreground objects. The first object's class is drawn
uniformly and picks a compatible scene (room, field, street or lake), so the usual context comes with it
(boats on water, cows on grass, aeroplanes in the sky, televisions on a cabinet indoors); the others are
drawn uniformly too and placed by where they live (ground, sky or water; a boat away from a lake brings
its own patch of water). Every scene carries unlabelled clutter (furniture, windows, trees, rocks, poles,
buildings), drawn as background 0, sometimes in front of the objects.

Objects are stylised side-view silhouettes built from parts in local coordinates (x right, y up, foot at
the origin) with class-specific shapes, colours and textures: quadrupeds differ in proportions, ears,
tails and fur (tabby cat, floppy-eared dog, patched horned cow, long-legged maned horse, woolly sheep),
vehicles in outline, window rows and wheels. Each object is rasterised once at a nominal size to measure
its labelled area, then scaled to a random target area (equal in expectation for every class, so pixel
shares balance), flipped at random and drawn back to front (later objects occlude earlier ones).

Drawing uses :mod:`uwl_utils.data.synthetic.render` at 2× supersampling; after downsampling the image gets camera
effects (photometry, blur, vignetting, noise) and the label a VOC-style 255 band along every boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageDraw

from uwl_utils.data.classes import VOC_CLASSES
from uwl_utils.data.synthetic.render import (
    RGB,
    Canvas,
    Ellipse,
    Group,
    Line,
    Paint,
    Part,
    Point,
    Polygon,
    Shape,
    blend,
    bricks,
    camera_effects,
    cells,
    cylinder_light,
    dome_light,
    downsample_image,
    downsample_label,
    ellipse_polygon,
    flat,
    foliage,
    ignore_boundaries,
    limb,
    lit,
    mix,
    mixed,
    noise_pattern,
    place,
    rect,
    rgb255,
    stripes,
    textured,
    threshold,
    tiles,
    vary,
    vertical_light,
)

HEIGHT, WIDTH, SCALE = 128, 128, 2

(AEROPLANE, BICYCLE, BIRD, BOAT, BOTTLE, BUS, CAR, CAT, CHAIR, COW, DININGTABLE, DOG, HORSE, MOTORBIKE, PERSON,
 POTTEDPLANT, SHEEP, SOFA, TRAIN, TVMONITOR) = range(1, 21)  # fmt: skip
assert VOC_CLASSES[TVMONITOR] == "tvmonitor" and VOC_CLASSES[COW] == "cow"

# Scenes each class may pick when it is the first object of an image.
SCENES: dict[int, tuple[str, ...]] = {
    AEROPLANE: ("field", "lake", "street"), BICYCLE: ("street", "field"), BIRD: ("field", "lake", "street"),
    BOAT: ("lake",), BOTTLE: ("room",), BUS: ("street",), CAR: ("street", "field"), CAT: ("room", "street", "field"),
    CHAIR: ("room", "street"), COW: ("field",), DININGTABLE: ("room",), DOG: ("room", "field", "street"),
    HORSE: ("field",), MOTORBIKE: ("street", "field"), PERSON: ("room", "street", "field", "lake"),
    POTTEDPLANT: ("room", "street"), SHEEP: ("field",), SOFA: ("room",), TRAIN: ("field",), TVMONITOR: ("room",),
}  # fmt: skip
# Target-area gains that even out the pixel share of classes (thin parts lose more to the ignore band).
AREA_GAIN = {
    AEROPLANE: 0.8,
    BICYCLE: 1.1,
    BIRD: 1.3,
    BOAT: 0.9,
    BOTTLE: 1.25,
    BUS: 0.65,
    CAR: 0.7,
    CAT: 1.3,
    CHAIR: 1.4,
    COW: 0.85,
    DOG: 1.2,
    HORSE: 1.6,
    PERSON: 1.5,
    POTTEDPLANT: 0.65,
    SHEEP: 0.65,
    SOFA: 0.65,
    TRAIN: 1.0,
    TVMONITOR: 0.7,
}
MAX_WIDTH = {BUS: 1.1, TRAIN: 1.3, AEROPLANE: 1.3}  # widest object (fraction of the image width), default 0.95

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


# ------------------------------------------------------------------------------------------ vehicles


def aeroplane(rng: np.random.Generator) -> Obj:
    """Airliner in 3/4 side view: fuselage with cheat line, swept wings, engines, coloured tail fin."""
    body = tex(rng, pick(rng, (WHITE, rgb255(215, 218, 225), rgb255(190, 195, 200))), 0.04)
    accent = flat(pick(rng, PAINTS[:2] + PAINTS[5:9]))
    r = float(rng.uniform(0.055, 0.075))
    top = [(-0.5, 0.8 * r), (-0.3, r), (0.33, r), (0.45, 0.7 * r), (0.5, 0.05 * r)]
    bot = [(0.48, -0.5 * r), (0.4, -0.95 * r), (0.25, -r), (-0.25, -r), (-0.5, 0.25 * r)]
    span = float(rng.uniform(0.3, 0.45))
    parts = [
        Part(
            Polygon(((0.08, 0.5 * r), (-0.04, 0.5 * r), (-0.2, 0.45 * span), (-0.13, 0.45 * span))),
            shade(body, 0.75),
            AEROPLANE,
        ),
        Part(Polygon(tuple(top + bot)), body, AEROPLANE, vertical_light(1.1, 0.75)),
        Part(Polygon(((-0.5, 0.8 * r), (-0.33, r), (-0.43, r + 0.17), (-0.52, r + 0.18))), accent, AEROPLANE),
        Part(Polygon(((-0.12, 0.2 * r), (-0.28, 0.2 * r), (0.0, 0.0))), accent, AEROPLANE),
        Part(Polygon(((-0.36, 0.3 * r), (-0.5, 0.3 * r), (-0.56, -0.1), (-0.5, -0.1))), shade(body, 0.9), AEROPLANE),
        Part(
            Polygon(((0.12, -0.3 * r), (-0.02, -0.3 * r), (-0.24, -span), (-0.14, -span))),
            body,
            AEROPLANE,
            vertical_light(0.95, 0.8),
        ),
        Part(Polygon(((0.44, 0.45 * r), (0.47, 0.15 * r), (0.41, 0.2 * r), (0.39, 0.5 * r))), flat(DARK), AEROPLANE),
    ]
    for ex, ey in ((0.03, -0.38 * span), (-0.08, -0.75 * span))[: 1 + int(rng.random() < 0.5)]:
        parts.append(
            Part(ellipse_polygon(ex, ey, 0.07, 0.025), tex(rng, METAL, 0.06), AEROPLANE, vertical_light(1.1, 0.7))
        )
    return Obj(rotated(parts, float(rng.uniform(-0.3, 0.3))), "sky")


def bicycle(rng: np.random.Generator) -> Obj:
    """Two spoked wheels, a diamond frame in a bright colour, saddle and handlebar."""
    frame = tex(rng, pick(rng, PAINTS), 0.05)
    r = 0.33
    parts: list[Part] = []
    for cx in (-0.52, 0.52):
        spokes = Group(
            tuple(
                Line(((cx, r), (cx + r * np.cos(a), r + r * np.sin(a))), 0.012)
                for a in np.linspace(0, np.pi, 6, endpoint=False) + rng.uniform(0, 1)
            )
        )
        parts += [
            Part(disc(cx, r, r), flat(DARK), BICYCLE, opacity=0.25),
            Part(spokes, flat(METAL), BICYCLE, opacity=0.7),
            Part(disc(cx, r, r, 0.055), flat(TYRE), BICYCLE),
            Part(disc(cx, r, 0.035), flat(METAL), BICYCLE),
        ]
    bb, seat, head = (-0.05, r - 0.02), (-0.2, r + 0.42), (0.36, r + 0.42)
    tubes = Group(
        (
            Line(((-0.52, r), bb, seat, (-0.52, r)), 0.045),
            Line((seat, head, (0.52, r)), 0.05),
            Line((bb, (head[0] - 0.02, head[1] - 0.1)), 0.055),
        )
    )
    parts += [
        Part(tubes, frame, BICYCLE),
        Part(disc(bb[0], bb[1], 0.07, 0.03), flat(METAL), BICYCLE),
        Part(Line((seat, (-0.23, r + 0.52)), 0.03), flat(METAL), BICYCLE),
        Part(Polygon(((-0.34, r + 0.55), (-0.14, r + 0.55), (-0.17, r + 0.5), (-0.3, r + 0.5))), flat(DARK), BICYCLE),
        Part(Line((head, (0.32, r + 0.6), (0.43, r + 0.62)), 0.04), flat(DARK), BICYCLE),
    ]
    return Obj(parts)


def boat(rng: np.random.Generator) -> Obj:
    """Hull on the waterline with a sail rig or a cabin; rowing boats are plain wooden hulls."""
    kind = int(rng.integers(3))
    hull_rgb = (
        pick(rng, WOODS[:3])
        if kind == 2
        else pick(rng, (WHITE, rgb255(200, 40, 35), rgb255(30, 50, 110), rgb255(40, 110, 70)))
    )
    hull = tex(rng, hull_rgb, 0.06)
    h = 0.2 if kind < 2 else 0.15
    parts = [
        Part(Polygon(((-0.47, -0.03), (0.3, -0.03), (0.52, h), (-0.5, h * 0.9))), hull, BOAT, vertical_light(1.1, 0.7)),
        Part(Polygon(((-0.5, h * 0.78), (0.47, h * 0.85), (0.52, h), (-0.5, h * 0.9))), flat(pick(rng, PAINTS)), BOAT),
    ]
    if kind == 0:
        parts += [
            Part(Line(((0.0, h), (0.0, 1.0)), 0.022), flat(METAL), BOAT),
            Part(
                Polygon(((-0.02, h + 0.06), (-0.02, 0.95), (-0.42, h + 0.06))),
                tex(rng, rgb255(240, 238, 228)),
                BOAT,
                vertical_light(1.05, 0.85),
            ),
            Part(Polygon(((0.03, h + 0.05), (0.03, 0.85), (0.4, h + 0.04))), tex(rng, pick(rng, PAINTS)), BOAT),
        ]
    elif kind == 1:
        parts += [
            Part(
                Polygon(((-0.3, h), (0.12, h), (0.2, h + 0.17), (-0.28, h + 0.19))),
                tex(rng, WHITE, 0.05),
                BOAT,
                vertical_light(1.1, 0.9),
            ),
            Part(Polygon(((-0.24, h + 0.08), (0.1, h + 0.08), (0.15, h + 0.14), (-0.24, h + 0.14))), flat(GLASS), BOAT),
        ]
    else:
        parts.append(Part(Line(((-0.1, h + 0.05), (0.35, -0.06)), 0.025), tex(rng, WOODS[0]), BOAT))
    return Obj(parts, "water")


def bus(rng: np.random.Generator) -> Obj:
    """Long tall box with a window row, doors, windscreen, destination display and two wheels."""
    body = tex(
        rng,
        pick(rng, (rgb255(235, 190, 30), rgb255(200, 35, 35), rgb255(40, 90, 170), rgb255(30, 140, 80), WHITE)),
        0.05,
    )
    deck = 2 if rng.random() < 0.3 else 1
    top = 0.4 if deck == 1 else 0.62
    parts = [
        Part(
            Polygon(((-0.5, 0.05), (0.5, 0.05), (0.5, top - 0.04), (0.47, top), (-0.5, top))),
            body,
            BUS,
            vertical_light(1.1, 0.85),
        ),
        Part(rect(-0.5, 0.08, 0.5, 0.11), flat(pick(rng, PAINTS)), BUS),
    ]
    for row in range(deck):
        y0 = 0.2 + 0.22 * row
        parts.append(Part(rect(-0.46, y0, 0.4, y0 + 0.13), flat(GLASS), BUS))
        posts = Group(tuple(rect(x, y0, x + 0.02, y0 + 0.13) for x in np.arange(-0.36, 0.4, 0.11)))
        parts.append(Part(posts, body, BUS))
    parts += [
        Part(Polygon(((0.43, 0.2), (0.5, 0.2), (0.5, top - 0.07), (0.45, top - 0.07))), flat(GLASS), BUS),
        Part(rect(0.3, 0.06, 0.39, top - 0.1 - 0.22 * (deck - 1)), shade(flat(GLASS), 0.8), BUS),
        Part(rect(-0.4, top - 0.05, -0.1, top - 0.015), flat(rgb255(240, 150, 20)), BUS),
    ]
    for cx in (-0.32, 0.22):
        parts += wheel(rng, cx, 0.07, BUS)
    return Obj(parts)


def car(rng: np.random.Generator) -> Obj:
    """Low body with a glasshouse of two windows, lights, bumpers and wheels; sedan, hatchback or SUV."""
    body = tex(rng, pick(rng, PAINTS), 0.04)
    tall = float(rng.uniform(0.0, 0.08))
    roof, belt = 0.4 + tall, 0.24 + tall * 0.6
    rear = float(rng.uniform(-0.42, -0.26))
    parts = [
        Part(
            Polygon(((-0.5, 0.06), (0.5, 0.06), (0.5, belt - 0.05), (0.42, belt), (-0.48, belt + 0.01))),
            body,
            CAR,
            vertical_light(1.15, 0.8),
        ),
        Part(
            Polygon(
                ((-0.48, belt), (0.4, belt), (0.2, belt + 0.02), (0.08, roof), (rear + 0.05, roof), (rear, belt + 0.03))
            ),
            body,
            CAR,
        ),
        Part(
            Polygon(
                ((rear + 0.04, belt + 0.02), (-0.08, belt + 0.02), (-0.08, roof - 0.03), (rear + 0.07, roof - 0.03))
            ),
            flat(GLASS),
            CAR,
            vertical_light(1.3, 0.8),
        ),
        Part(
            Polygon(((-0.05, belt + 0.02), (0.17, belt + 0.02), (0.07, roof - 0.03), (-0.05, roof - 0.03))),
            flat(GLASS),
            CAR,
            vertical_light(1.3, 0.8),
        ),
        Part(rect(-0.5, 0.06, 0.5, 0.1), flat(DARK), CAR),
        Part(rect(0.45, belt - 0.06, 0.5, belt - 0.02), flat(rgb255(240, 235, 200)), CAR),
        Part(rect(-0.5, belt - 0.05, -0.46, belt - 0.01), flat(rgb255(200, 20, 20)), CAR),
    ]
    for cx in (-0.3, 0.3):
        parts += wheel(rng, cx, 0.09, CAR)
    return Obj(parts)


def motorbike(rng: np.random.Generator) -> Obj:
    """Two thick solid wheels, engine block, coloured tank, black seat, fork, exhaust and headlight."""
    paint = tex(rng, pick(rng, PAINTS), 0.05)
    r = 0.2
    parts: list[Part] = []
    for cx in (-0.4, 0.4):
        parts += [
            Part(disc(cx, r, r), flat(TYRE), MOTORBIKE),
            Part(disc(cx, r, 0.55 * r, 0.02), flat(METAL), MOTORBIKE),
            Part(disc(cx, r, 0.15 * r), flat(METAL), MOTORBIKE),
        ]
    parts += [
        Part(Line(((0.4, r), (0.3, 0.58)), 0.04), flat(METAL), MOTORBIKE),
        Part(Line(((-0.4, r), (-0.1, 0.3), (0.3, 0.33)), 0.05), flat(DARK), MOTORBIKE),
        Part(
            Polygon(((-0.15, 0.12), (0.15, 0.12), (0.2, 0.34), (-0.12, 0.36))),
            lit(tex(rng, METAL, 0.1), stripes(2.0, 0.4, "v"), 0.6, 1.0),
            MOTORBIKE,
        ),
        Part(Line(((-0.05, 0.16), (-0.45, 0.22)), 0.05), tex(rng, METAL), MOTORBIKE, vertical_light(1.3, 0.7)),
        Part(Polygon(((-0.45, 0.42), (-0.1, 0.44), (-0.05, 0.5), (-0.42, 0.48))), flat(DARK), MOTORBIKE),
        Part(ellipse_polygon(0.07, 0.47, 0.17, 0.08, 0.1), paint, MOTORBIKE, dome_light(0.5, 0.2)),
        Part(Polygon(((-0.52, 0.4), (-0.38, 0.4), (-0.34, 0.46), (-0.5, 0.45))), paint, MOTORBIKE),
        Part(Line(((0.28, 0.62), (0.22, 0.66), (0.14, 0.66)), 0.035), flat(DARK), MOTORBIKE),
        Part(disc(0.34, 0.53, 0.045), flat(rgb255(240, 240, 215)), MOTORBIKE),
    ]
    return Obj(parts)


def train(rng: np.random.Generator) -> Obj:
    """Long carriage with a sloped cab, window row, livery stripe, bogies and pantograph, on rails."""
    body_rgb = pick(
        rng,
        (
            WHITE,
            rgb255(235, 200, 30),
            rgb255(200, 205, 210),
            rgb255(40, 80, 150),
            rgb255(170, 30, 30),
            rgb255(40, 110, 60),
        ),
    )
    body = tex(rng, body_rgb, 0.04)
    stripe = flat(pick(rng, PAINTS))
    n = float(rng.uniform(0.6, 1.3))
    parts = [
        Part(
            Polygon(((-n, 0.06), (0.5, 0.06), (0.62, 0.12), (0.6, 0.18), (0.45, 0.34), (-n, 0.34))),
            body,
            TRAIN,
            vertical_light(1.1, 0.85),
        ),
        Part(rect(-n, 0.1, 0.58, 0.14), stripe, TRAIN),
        Part(Polygon(((0.44, 0.22), (0.55, 0.2), (0.45, 0.31), (0.4, 0.31))), flat(GLASS), TRAIN),
        Part(rect(-n, 0.2, 0.36, 0.28), flat(GLASS), TRAIN),
        Part(Group(tuple(rect(x, 0.2, x + 0.03, 0.28) for x in np.arange(0.3, -n, -0.14))), body, TRAIN),
        Part(rect(-n, 0.34, 0.42, 0.37), flat(rgb255(70, 70, 75)), TRAIN),
        Part(Line(((-0.3, 0.37), (-0.15, 0.48), (-0.32, 0.52)), 0.02), flat(DARK), TRAIN),
    ]
    for bx in (0.25, -n + 0.3):
        parts += [Part(rect(bx - 0.13, 0.015, bx + 0.13, 0.07), flat(DARK), TRAIN)]
        parts += wheel(rng, bx - 0.07, 0.035, TRAIN) + wheel(rng, bx + 0.07, 0.035, TRAIN)
    ties = Group(tuple(rect(x, -0.03, x + 0.04, 0.005) for x in np.arange(-3.0, 3.0, 0.12)))
    under = [
        Part(rect(-3.0, -0.035, 3.0, 0.005), tex(rng, rgb255(120, 110, 100), 0.3, "grain"), 0),
        Part(ties, tex(rng, WOODS[3]), 0),
        Part(rect(-3.0, -0.005, 3.0, 0.01), flat(METAL), 0),
    ]
    return Obj(parts, under=under)


# ----------------------------------------------------------------------------------------- furniture


def bottle(rng: np.random.Generator) -> Obj:
    """Wine, beer or water bottle: glass body, shoulders, neck, cap and paper label, on a cabinet or the floor."""
    kind = int(rng.integers(3))
    glass = pick(
        rng, (rgb255(30, 100, 40), rgb255(100, 55, 20), rgb255(40, 40, 35)) if kind < 2 else (rgb255(150, 190, 215),)
    )
    w, shoulder, neck = (0.17, 0.55, 0.95) if kind == 0 else (0.19, 0.5, 0.8) if kind == 1 else (0.22, 0.7, 0.85)
    nw = 0.055 if kind < 2 else 0.08
    parts = [
        Part(
            Polygon(
                (
                    (-w, 0),
                    (w, 0),
                    (w, shoulder),
                    (nw, shoulder + 0.15),
                    (nw, neck),
                    (-nw, neck),
                    (-nw, shoulder + 0.15),
                    (-w, shoulder),
                )
            ),
            tex(rng, glass, 0.05),
            BOTTLE,
            cylinder_light(0.3, 0.5, 0.8),
        ),
        Part(rect(-nw - 0.01, neck, nw + 0.01, neck + 0.06), flat(pick(rng, PAINTS)), BOTTLE),
        Part(
            rect(-w, 0.15, w, 0.4),
            tex(rng, pick(rng, (rgb255(235, 225, 200), WHITE) + PAINTS[:2])),
            BOTTLE,
            cylinder_light(0.3, 0.6, 0.5),
        ),
    ]
    under: list[Part] = []
    if rng.random() < 0.7:
        top, half = float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.4, 0.8))
        under = [
            Part(
                rect(-half, -top, half, 0.0), tex(rng, pick(rng, WOODS + WALLS[:2]), 0.1), 0, vertical_light(1.0, 0.75)
            )
        ]
    return Obj(parts, under=under)


def chair(rng: np.random.Generator) -> Obj:
    """Four legs, seat slab and a slatted or solid back, in wood, plastic or metal."""
    colour = pick(rng, WOODS + (WHITE, DARK, rgb255(180, 40, 40)))
    paint = tex(rng, colour, 0.12 if colour in WOODS else 0.04)
    d, seat = float(rng.uniform(0.06, 0.12)), float(rng.uniform(0.42, 0.5))
    lw = 0.05
    parts = [
        Part(limb((x + d, seat + d * 0.7), (x + d, 0.05 + d * 0.7), lw), shade(paint, 0.7), CHAIR) for x in (-0.2, 0.2)
    ]
    parts += [Part(limb((x, seat), (x, lw / 2), lw), paint, CHAIR) for x in (-0.2, 0.2)]
    parts.append(
        Part(
            Polygon(
                ((-0.23, seat - 0.04), (0.23, seat - 0.04), (0.23 + d, seat + d * 0.7), (-0.23 + d, seat + d * 0.7))
            ),
            paint,
            CHAIR,
            vertical_light(1.2, 0.8),
        )
    )
    back = float(rng.uniform(0.4, 0.55)) + seat
    parts += [Part(limb((x, seat), (x, back), lw), paint, CHAIR) for x in (-0.2 + d, 0.2 + d)]
    if rng.random() < 0.5:
        parts.append(Part(rect(-0.2 + d, back - 0.15, 0.2 + d, back), paint, CHAIR))
    else:
        slats = np.linspace(seat + 0.12, back - 0.05, 3)
        parts.append(Part(Group(tuple(rect(-0.2 + d, y, 0.2 + d, y + 0.05) for y in slats)), paint, CHAIR))
    return Obj(parts if rng.random() < 0.5 else mapped(parts, lambda p: (-p[0], p[1])))


def diningtable(rng: np.random.Generator) -> Obj:
    """Table top seen slightly from above, legs, sometimes a checked cloth, with plates and cups on it."""
    wood = tex(rng, pick(rng, WOODS), 0.12, "fine", 1.0)
    top, d = float(rng.uniform(0.42, 0.55)), float(rng.uniform(0.1, 0.25))
    parts = [Part(limb((x, top), (x, 0.12), 0.05), shade(wood, 0.6), DININGTABLE) for x in (-0.38, 0.38)]
    parts += [Part(limb((x, top), (x, 0.025), 0.06), wood, DININGTABLE) for x in (-0.46, 0.46)]
    surface = Polygon(((-0.5, top), (0.5, top), (0.42, top + d), (-0.42, top + d)))
    parts += [
        Part(surface, wood, DININGTABLE, vertical_light(0.85, 1.1)),
        Part(rect(-0.5, top - 0.05, 0.5, top), shade(wood, 0.7), DININGTABLE),
    ]
    if rng.random() < 0.4:
        cloth = mixed(tex(rng, WHITE, 0.03), flat(pick(rng, PAINTS[:2])), tiles(3.0, 3.0, 1.5))
        parts += [
            Part(
                Polygon(
                    (
                        (-0.52, top - 0.18),
                        (0.52, top - 0.18),
                        (0.52, top),
                        (0.43, top + d),
                        (-0.43, top + d),
                        (-0.52, top),
                    )
                ),
                cloth,
                DININGTABLE,
                vertical_light(1.1, 0.85),
            )
        ]
    for _ in range(int(rng.integers(1, 4))):
        x, y = float(rng.uniform(-0.3, 0.3)), top + float(rng.uniform(0.3, 0.7)) * d
        if rng.random() < 0.6:
            parts.append(Part(Ellipse(x, y, 0.09, 0.03), tex(rng, WHITE, 0.03), DININGTABLE, dome_light()))
        else:
            parts.append(Part(rect(x - 0.03, y, x + 0.03, y + 0.08), flat(pick(rng, PAINTS)), DININGTABLE))
    return Obj(parts)


def sofa(rng: np.random.Generator) -> Obj:
    """Upholstered base, backrest, seat cushions with seams, rounded arm rests, small feet and pillows."""
    fabric = tex(rng, pick(rng, FABRICS), 0.12, "grain", 2.0)
    back = float(rng.uniform(0.55, 0.7))
    parts = [
        Part(
            Polygon(((-0.45, 0.3), (0.45, 0.3), (0.45, back - 0.04), (0.4, back), (-0.4, back), (-0.45, back - 0.04))),
            shade(fabric, 0.85),
            SOFA,
            vertical_light(1.1, 0.8),
        ),
        Part(rect(-0.5, 0.05, 0.5, 0.3), shade(fabric, 0.9), SOFA, vertical_light(1.0, 0.75)),
        Part(
            rect(-0.42, 0.28, 0.42, 0.37),
            lit(fabric, stripes(1.0, 0.0, "u"), 1.1, 1.1),
            SOFA,
            vertical_light(1.2, 0.95),
        ),
        Part(
            Group(
                (Line(((0.0, 0.28), (0.0, 0.37)), 0.012),)
                + (
                    ()
                    if rng.random() < 0.5
                    else (Line(((-0.14, 0.28), (-0.14, 0.37)), 0.012), Line(((0.14, 0.28), (0.14, 0.37)), 0.012))
                )
            ),
            shade(fabric, 0.55),
            SOFA,
        ),
    ]
    for x in (-0.44, 0.44):
        parts += [
            Part(rect(x - 0.07, 0.05, x + 0.07, 0.42), fabric, SOFA, vertical_light(1.1, 0.8)),
            Part(disc(x, 0.42, 0.07), fabric, SOFA, dome_light()),
            Part(rect(x - 0.05, 0.0, x - 0.01, 0.05), flat(DARK), SOFA),
        ]
    for _ in range(int(rng.integers(0, 3))):
        x = float(rng.uniform(-0.3, 0.3))
        parts.append(
            Part(
                ellipse_polygon(x, 0.43, 0.08, 0.07, float(rng.uniform(-0.4, 0.4)), 8),
                tex(rng, pick(rng, PAINTS + FABRICS)),
                SOFA,
                dome_light(),
            )
        )
    return Obj(parts)


def tvmonitor(rng: np.random.Generator) -> Obj:
    """Dark frame, glossy screen (off, or showing a blurry picture) and a stand, usually on a cabinet."""
    frame = tex(rng, pick(rng, (DARK, rgb255(60, 60, 65), rgb255(170, 170, 175))), 0.03)
    w, h = float(rng.uniform(0.45, 0.55)), float(rng.uniform(0.28, 0.36))
    if rng.random() < 0.4:
        screen = blend(
            flat(rgb255(15, 18, 25)),
            rgb255(120, 130, 150),
            lambda ys, xs: 0.4 * np.clip(1 - np.abs((xs - 0.7 * ys) % 50 - 25) / 8, 0, 1),
        )
    else:
        screen = mixed(
            tex(rng, pick(rng, PAINTS), 0.4, "coarse", 3.0),
            tex(rng, pick(rng, PAINTS), 0.4, "coarse"),
            noise_pattern(rng, "coarse", 3.0),
        )
    cy = 0.12 + h
    parts = [
        Part(rect(-0.06, 0.02, 0.06, cy), frame, TVMONITOR),
        Part(Polygon(((-0.2, 0.0), (0.2, 0.0), (0.15, 0.04), (-0.15, 0.04))), frame, TVMONITOR),
        Part(rect(-w, cy - h, w, cy + h), frame, TVMONITOR, vertical_light(1.1, 0.9)),
        Part(
            rect(-w + 0.035, cy - h + 0.035, w - 0.035, cy + h - 0.035), screen, TVMONITOR, vertical_light(1.15, 0.85)
        ),
    ]
    under: list[Part] = []
    if rng.random() < 0.75:
        dh, half = float(rng.uniform(0.3, 0.6)), float(rng.uniform(0.7, 1.0))
        under = [
            Part(
                rect(-half, -dh, half, 0.0),
                tex(rng, pick(rng, WOODS + (WHITE, DARK)), 0.1),
                0,
                vertical_light(1.05, 0.8),
            ),
            Part(rect(-half + 0.05, -dh + 0.05, -0.05, -0.05), shade(flat(pick(rng, WOODS)), 0.8), 0),
        ]
    return Obj(parts, under=under)


def pottedplant(rng: np.random.Generator) -> Obj:
    """A pot (terracotta, glazed or white) with a bushy, leafy or flowering plant."""
    pot = tex(rng, pick(rng, (rgb255(185, 95, 55), rgb255(235, 235, 230), rgb255(50, 80, 140), rgb255(60, 60, 60))))
    green = foliage(pick(rng, GREENS), rng, 2.0)
    parts = [
        Part(
            Polygon(((-0.15, 0.0), (0.15, 0.0), (0.2, 0.3), (-0.2, 0.3))),
            pot,
            POTTEDPLANT,
            cylinder_light(0.35, 0.6, 0.6),
        ),
        Part(rect(-0.22, 0.28, 0.22, 0.35), shade(pot, 0.85), POTTEDPLANT),
    ]
    kind = int(rng.integers(3))
    if kind == 0:  # bushy
        xyr = np.stack([rng.uniform(-0.2, 0.2, 5), rng.uniform(0.45, 0.75, 5), rng.uniform(0.14, 0.22, 5)], 1)
        blobs = tuple(disc(x, y, r) for x, y, r in xyr.tolist())
        parts.append(Part(Group(blobs), green, POTTEDPLANT, dome_light(0.4, 0.2, 0.7, 0.5)))
    else:  # long leaves fanning out
        for a in np.linspace(-1.1, 1.1, int(rng.integers(6, 10))) + rng.normal(0, 0.1):
            ln = float(rng.uniform(0.35, 0.6))
            parts.append(
                Part(
                    ellipse_polygon(-np.sin(a) * ln / 2, 0.33 + np.cos(a) * ln / 2, 0.05, ln / 2, a, 12),
                    green,
                    POTTEDPLANT,
                    vertical_light(1.2, 0.8),
                )
            )
    if kind == 2:
        colour = flat(pick(rng, (rgb255(230, 40, 60), rgb255(250, 220, 40), WHITE, rgb255(200, 80, 200))))
        parts.append(
            Part(
                Group(
                    tuple(disc(float(rng.uniform(-0.25, 0.25)), float(rng.uniform(0.5, 0.8)), 0.045) for _ in range(5))
                ),
                colour,
                POTTEDPLANT,
            )
        )
    return Obj(parts)


# ------------------------------------------------------------------------------------- living things


def person(rng: np.random.Generator) -> Obj:
    """A standing person (front or side view) with clothes, skin, hair and a random arm pose."""
    skin, top, legs = tex(rng, pick(rng, SKIN), 0.05), tex(rng, pick(rng, CLOTHES)), tex(rng, pick(rng, TROUSERS))
    hair = flat(pick(rng, HAIR))
    side = rng.random() < 0.4
    hip, sh, head = 0.5, 0.81, 0.92
    parts: list[Part] = []
    tw = 0.07 if side else 0.11
    stride = float(rng.uniform(0.0, 0.12)) if side else 0.0
    for sgn in (-1, 1):
        x = 0.0 if side else sgn * 0.055
        parts.append(Part(limb((x, hip), (x + sgn * stride + (0 if side else sgn * 0.02), 0.035), 0.075), legs, PERSON))
        parts.append(
            Part(
                limb((x + sgn * stride, 0.02), (x + sgn * stride + 0.05 * (1 if side else sgn), 0.02), 0.04),
                flat(DARK),
                PERSON,
            )
        )
    dress = not side and rng.random() < 0.2
    parts.append(
        Part(
            Polygon(
                (
                    (-tw * (1.6 if dress else 1), hip - (0.2 if dress else 0.02)),
                    (tw * (1.6 if dress else 1), hip - (0.2 if dress else 0.02)),
                    (tw, sh),
                    (-tw, sh),
                )
            ),
            top,
            PERSON,
            vertical_light(1.1, 0.85),
        )
    )
    for sgn in (-1, 1):
        ax = 0.0 if side else sgn * (tw + 0.02)
        pose = int(rng.integers(3))
        hand = ((ax + sgn * 0.03, hip - 0.02), (ax + sgn * 0.14, sh + 0.12), (ax + sgn * 0.12, hip + 0.06))[pose]
        elbow = (ax + sgn * 0.04, (sh + hip) / 2) if pose != 2 else (ax + sgn * 0.11, sh - 0.1)
        parts.append(Part(Line(((ax, sh - 0.02), elbow, hand), 0.055), top, PERSON))
        parts.append(Part(disc(hand[0], hand[1], 0.03), skin, PERSON))
    parts += [
        Part(limb((0, sh), (0, head), 0.05), skin, PERSON),
        Part(Ellipse(0.01 if side else 0.0, head, 0.062, 0.075), skin, PERSON, dome_light()),
        Part(Ellipse(-0.01 if side else 0.0, head + 0.035, 0.065, 0.045), hair, PERSON),
    ]
    return Obj(parts)


def quadruped(
    rng: np.random.Generator,
    label: int,
    fur: Paint,
    length: float,
    body_h: float,
    leg: float,
    leg_w: float,
    head: Point,
    head_r: float,
    snout: float,
    neck_w: float,
    head_paint: Paint | None = None,
    leg_paint: Paint | None = None,
    hoof: Paint | None = None,
) -> list[Part]:
    """Generic four-legged animal facing +x: legs (far ones darker), body, neck, head and snout."""
    legs = leg_paint or fur
    hp = head_paint or fur
    swing = float(rng.uniform(-0.06, 0.06))
    parts: list[Part] = []
    xs = (-length / 2 + 0.12 + 0.04, length / 2 - 0.12 + 0.04, -length / 2 + 0.12, length / 2 - 0.12)
    for i, x in enumerate(xs):
        s = swing if i % 2 else -swing
        parts.append(
            Part(limb((x, leg + body_h * 0.3), (x + s, leg_w / 2), leg_w), shade(legs, 0.7 if i < 2 else 1.0), label)
        )
        if hoof is not None:
            parts.append(Part(rect(x + s - leg_w * 0.55, 0.0, x + s + leg_w * 0.55, 0.06), hoof, label))
    parts += [
        Part(
            ellipse_polygon(0.0, leg + body_h / 2, length / 2, body_h / 2, 0.0, 24),
            fur,
            label,
            dome_light(0.5, 0.2, 0.65, 0.5),
        ),
        Part(limb((length * 0.35, leg + body_h * 0.6), head, neck_w), fur, label),
        Part(Ellipse(head[0], head[1], head_r, head_r * 0.9), hp, label, dome_light()),
        Part(ellipse_polygon(head[0] + head_r * 0.8, head[1] - head_r * 0.3, snout, head_r * 0.5, -0.3, 12), hp, label),
        Part(disc(head[0] + head_r * 0.3, head[1] + head_r * 0.2, head_r * 0.15), flat(DARK), label),
    ]
    return parts


def cat(rng: np.random.Generator) -> Obj:
    """Small low cat: round head, upright pointed ears, long thin raised tail, tabby stripes or solid fur."""
    base = pick(rng, (rgb255(215, 135, 55), rgb255(150, 150, 150), rgb255(35, 35, 38), rgb255(235, 230, 220)))
    fur = tex(rng, base, 0.1)
    if rng.random() < 0.6 and base[0] < 0.9:
        fur = mixed(fur, shade(fur, 0.65), threshold(stripes(float(rng.uniform(3.0, 5.0)), 0.3, "u"), 0.5, 0.5))
    head = (0.52, 0.66)
    parts = quadruped(rng, CAT, fur, 0.85, 0.3, 0.22, 0.075, head, 0.17, 0.04, 0.14)
    parts.insert(0, Part(Line(((-0.38, 0.4), (-0.58, 0.5), (-0.64, 0.75), (-0.56, 0.9)), 0.065), fur, CAT))
    for dx in (-0.1, 0.07):
        x = head[0] + dx
        parts.append(Part(Polygon(((x - 0.065, 0.74), (x + 0.07, 0.74), (x + 0.015, 0.92))), fur, CAT))
    return Obj(parts)


def dog(rng: np.random.Generator) -> Obj:
    """Medium dog: longer snout, drooping ears, medium legs, short raised tail; solid, patched or spotted coat."""
    base = pick(rng, (rgb255(210, 165, 90), rgb255(120, 75, 40), rgb255(30, 30, 30), rgb255(230, 225, 215)))
    fur = tex(rng, base, 0.08)
    if rng.random() < 0.35:
        fur = mixed(
            fur,
            flat(pick(rng, (DARK, WHITE, rgb255(120, 75, 40)))),
            threshold(noise_pattern(rng, "fine" if rng.random() < 0.5 else "medium", 2.0), 0.62, 0.04),
        )
    ear = tex(rng, mix(base, BLACK, 0.35), 0.05)
    head = (0.62, 0.92)
    parts = quadruped(rng, DOG, fur, 0.95, 0.34, 0.38, 0.09, head, 0.15, 0.13, 0.16)
    parts.insert(0, Part(Line(((-0.44, 0.62), (-0.6, 0.78), (-0.64, 0.9)), 0.07), fur, DOG))
    parts.append(Part(ellipse_polygon(head[0] - 0.09, head[1] - 0.07, 0.05, 0.12, -0.25, 10), ear, DOG))
    parts.append(Part(disc(head[0] + 0.25, head[1] - 0.06, 0.03), flat(DARK), DOG))
    return Obj(parts)


def horse(rng: np.random.Generator) -> Obj:
    """Tall horse: long thin legs with dark hooves, long raised neck with mane, elongated head, long tail."""
    base = pick(rng, (rgb255(115, 65, 30), rgb255(155, 85, 40), rgb255(40, 30, 25), rgb255(185, 185, 180)))
    coat = tex(rng, base, 0.05, "medium")
    dark = flat(mix(base, BLACK, 0.7))
    parts = quadruped(rng, HORSE, coat, 1.0, 0.36, 0.62, 0.075, (0.75, 1.32), 0.09, 0.0, 0.15, hoof=dark)
    parts.insert(0, Part(Line(((-0.48, 0.9), (-0.58, 0.7), (-0.6, 0.45)), 0.08), dark, HORSE))
    parts.append(Part(ellipse_polygon(0.86, 1.22, 0.18, 0.065, -0.6, 14), coat, HORSE, dome_light()))
    parts.append(Part(Line(((0.32, 1.0), (0.55, 1.2), (0.7, 1.4)), 0.05), dark, HORSE))
    parts.append(Part(Polygon(((0.7, 1.37), (0.76, 1.38), (0.7, 1.5))), coat, HORSE))
    return Obj(parts)


def cow(rng: np.random.Generator) -> Obj:
    """Bulky boxy cow: deep body, short thick legs, head low with horns and side ears, udder, tufted tail."""
    base = pick(rng, (WHITE, rgb255(130, 80, 45), rgb255(40, 35, 30)))
    hide = tex(rng, base, 0.06)
    if rng.random() < 0.7:
        patch = DARK if base[0] > 0.8 else WHITE
        hide = mixed(
            hide,
            tex(rng, patch, 0.05),
            threshold(noise_pattern(rng, "medium", float(rng.uniform(1.5, 2.5))), 0.52, 0.03),
        )
    head = (0.6, 0.78)
    parts = quadruped(rng, COW, hide, 1.05, 0.45, 0.35, 0.11, head, 0.13, 0.1, 0.2)
    parts[4] = Part(
        Polygon(((-0.52, 0.42), (0.48, 0.42), (0.53, 0.62), (0.45, 0.82), (-0.5, 0.8), (-0.55, 0.6))),
        hide,
        COW,
        vertical_light(1.1, 0.85),
    )
    parts.insert(0, Part(Line(((-0.52, 0.78), (-0.58, 0.55), (-0.58, 0.35)), 0.035), hide, COW))
    parts.insert(1, Part(disc(-0.58, 0.34, 0.045), flat(DARK), COW))
    parts += [
        Part(Ellipse(0.15, 0.41, 0.09, 0.05), flat(rgb255(230, 160, 160)), COW),
        Part(
            Polygon(
                ((head[0] - 0.06, head[1] + 0.08), (head[0] - 0.02, head[1] + 0.1), (head[0] - 0.08, head[1] + 0.2))
            ),
            flat(rgb255(230, 225, 200)),
            COW,
        ),
        Part(ellipse_polygon(head[0] - 0.15, head[1] + 0.06, 0.08, 0.035, 0.3, 10), hide, COW),
        Part(Ellipse(head[0] + 0.2, head[1] - 0.05, 0.06, 0.06), flat(rgb255(220, 160, 150)), COW),
    ]
    return Obj(parts)


def sheep(rng: np.random.Generator) -> Obj:
    """Woolly sheep: bumpy round fleece of many curls, thin dark legs and a small dark (or white) face."""
    wool = lit(
        tex(rng, pick(rng, (rgb255(235, 230, 210), rgb255(215, 205, 180))), 0.25, "grain", 2.5),
        threshold(noise_pattern(rng, "grain", 2.5), 0.5, 0.15),
        0.75,
        1.1,
    )
    face = flat(pick(rng, (rgb255(30, 28, 25), rgb255(40, 35, 30), rgb255(220, 210, 195))))
    legs = flat(pick(rng, (rgb255(35, 30, 28), rgb255(60, 55, 50))))
    parts = quadruped(rng, SHEEP, wool, 0.9, 0.46, 0.25, 0.055, (0.56, 0.7), 0.11, 0.07, 0.1, face, legs)
    curls = tuple(
        disc(float(x), 0.25 + 0.23 + float(y), float(rng.uniform(0.08, 0.13)))
        for x, y in zip(rng.uniform(-0.42, 0.38, 12), rng.uniform(-0.2, 0.2, 12), strict=True)
    )
    parts.insert(5, Part(Group(curls), wool, SHEEP, dome_light(0.5, 0.2, 0.7, 0.45)))
    parts.append(Part(ellipse_polygon(0.45, 0.72, 0.08, 0.03, 0.5, 8), face, SHEEP))
    return Obj(parts)


def bird(rng: np.random.Generator) -> Obj:
    """A perched bird (plump tilted body, head, beak, wing, tail, legs) or a flying one with spread wings."""
    back, belly = [
        pick(rng, pair)
        for pair in (
            (
                rgb255(120, 80, 45),
                rgb255(25, 25, 28),
                rgb255(40, 80, 170),
                rgb255(130, 130, 135),
                rgb255(40, 130, 50),
                rgb255(230, 200, 40),
            ),
            (rgb255(220, 120, 50), rgb255(225, 215, 190), WHITE, rgb255(200, 200, 195)),
        )
    ]
    body, chest = tex(rng, back, 0.08), tex(rng, belly, 0.06)
    beak = flat(pick(rng, (rgb255(240, 170, 30), DARK, rgb255(230, 200, 60))))
    flying = rng.random() < 0.4
    if flying:
        parts = [
            Part(
                Polygon(((0.0, 0.02), (-0.15, 0.02), (-0.3, 0.25), (-0.45, 0.4), (-0.25, 0.3))), shade(body, 0.7), BIRD
            ),
            Part(Polygon(((-0.4, 0.0), (-0.55, 0.06), (-0.55, -0.1))), body, BIRD),
            Part(ellipse_polygon(0.0, 0.0, 0.35, 0.1, 0.0, 16), chest, BIRD, vertical_light(1.1, 0.8)),
            Part(disc(0.33, 0.03, 0.09), body, BIRD, dome_light()),
            Part(Polygon(((0.4, 0.05), (0.52, 0.0), (0.4, -0.01))), beak, BIRD),
            Part(Polygon(((0.1, 0.0), (-0.12, 0.0), (-0.1, 0.25), (-0.2, 0.5), (0.08, 0.28))), body, BIRD),
        ]
        return Obj(rotated(parts, float(rng.uniform(-0.25, 0.25))), "sky")
    parts = [
        Part(Line(((-0.02, 0.2), (0.0, 0.0)), 0.025), beak, BIRD),
        Part(Line(((0.06, 0.2), (0.08, 0.0)), 0.025), beak, BIRD),
        Part(Polygon(((-0.2, 0.42), (-0.55, 0.2), (-0.5, 0.15))), body, BIRD),
        Part(ellipse_polygon(0.0, 0.4, 0.3, 0.2, 0.35, 18), chest, BIRD, dome_light(0.6, 0.3)),
        Part(ellipse_polygon(-0.08, 0.45, 0.25, 0.12, 0.35, 14), body, BIRD, vertical_light(1.1, 0.8)),
        Part(disc(0.25, 0.64, 0.13), body, BIRD, dome_light()),
        Part(Polygon(((0.34, 0.68), (0.5, 0.62), (0.34, 0.6))), beak, BIRD),
        Part(disc(0.29, 0.67, 0.022), flat(DARK), BIRD),
    ]
    return Obj(parts)


BUILDERS: dict[int, Callable[[np.random.Generator], Obj]] = {
    AEROPLANE: aeroplane, BICYCLE: bicycle, BIRD: bird, BOAT: boat, BOTTLE: bottle, BUS: bus, CAR: car, CAT: cat,
    CHAIR: chair, COW: cow, DININGTABLE: diningtable, DOG: dog, HORSE: horse, MOTORBIKE: motorbike, PERSON: person,
    POTTEDPLANT: pottedplant, SHEEP: sheep, SOFA: sofa, TRAIN: train, TVMONITOR: tvmonitor,
}  # fmt: skip


# ------------------------------------------------------------------------------------------- scenes


class VocScene:
    """One image: a background scene of a kind, unlabelled clutter and 1–4 placed objects."""

    def __init__(self, rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> None:
        self.rng, self.h, self.w = rng, height, width
        self.canvas = Canvas(height, width, SCALE, label=0)
        self.classes = [int(c) for c in rng.integers(1, 21, int(rng.choice([1, 2, 3, 4], p=[0.15, 0.3, 0.3, 0.25])))]
        options = SCENES[self.classes[0]]
        self.kind = options[int(rng.integers(len(options)))]
        lo, hi = {"room": (0.45, 0.7), "field": (0.35, 0.6), "street": (0.4, 0.6), "lake": (0.35, 0.55)}[self.kind]
        if AEROPLANE in self.classes or (self.kind == "lake" and BOAT in self.classes):
            lo, hi = lo + 0.1, hi + 0.1
        self.horizon = float(rng.uniform(lo, hi)) * height
        self.ground = (self.horizon + 0.15 * (height - self.horizon), height * 1.02)  # foot rows of ground objects

    # ------------------------------------------------------------------------------------ backgrounds

    def draw_sky(self) -> None:
        rng, c, hz = self.rng, self.canvas, self.horizon
        top = pick(rng, SKIES)
        c.draw(rect(0, 0, self.w, hz + 2), gradient(top, mix(top, WHITE, float(rng.uniform(0.4, 0.8))), 0, hz), 0)
        for _ in range(int(rng.integers(0, 4))):
            x, y, r = float(rng.uniform(0, self.w)), float(rng.uniform(0, hz * 0.7)), float(rng.uniform(6, 18))
            offsets = rng.normal(0, 0.6, (4, 2))
            puffs = tuple(Ellipse(x + dx * r, y + dy * r * 0.4, r * 0.6, r * 0.4) for dx, dy in offsets)
            c.draw(
                Group(puffs),
                tex(rng, WHITE, 0.1, "medium", 1.0),
                0,
                vertical_light(1.0, 0.85),
                float(rng.uniform(0.5, 0.9)),
            )

    def skyline(self, paint: Paint, amp: float, y0: float | None = None) -> None:
        """A wavy silhouette (hills, tree line) standing on the horizon."""
        hz = self.horizon if y0 is None else y0
        xs = np.linspace(-2, self.w + 2, 24)
        ys = hz - amp * (0.6 + 0.5 * np.cumsum(self.rng.normal(0, 0.3, 24)).clip(-1, 1))
        outline = tuple(zip(xs.tolist(), ys.tolist(), strict=True)) + ((self.w + 2, hz + 1), (-2, hz + 1))
        self.canvas.draw(Polygon(outline), paint, 0)

    def draw_room(self) -> None:
        rng, c, hz, w, h = self.rng, self.canvas, self.horizon, self.w, self.h
        wall_rgb = pick(rng, WALLS)
        wall = tex(rng, wall_rgb, 0.05, "medium", 1.0)
        style = int(rng.integers(4))
        if style == 1:
            wall = mixed(wall, shade(wall, 0.85), stripes(float(rng.uniform(4, 9)), 0.5))
        elif style == 2:
            brick = pick(rng, (rgb255(170, 90, 70), rgb255(190, 170, 140)))
            wall = lit(tex(rng, brick, 0.15), bricks(6, 3, 0.6), 1.0, 0.7)
        elif style == 3:
            wall = lit(wall, tiles(5, 5, 0.5), 1.05, 0.75)
        c.draw(rect(0, 0, w, hz), wall, 0, vertical_light(1.05, 0.9))
        floor_rgb = pick(rng, WOODS + (rgb255(150, 150, 150), rgb255(110, 40, 40), rgb255(70, 90, 120)))
        floor = tex(rng, floor_rgb, 0.15, "grain", 1.0)
        if rng.random() < 0.6:
            floor = lit(floor, stripes(float(rng.uniform(3, 6)), 0.15, "v"), 1.0, 0.7)
        c.draw(rect(0, hz, w, h), floor, 0, vertical_light(0.8, 1.1))
        c.draw(rect(0, hz - 2, w, hz), flat(mix(wall_rgb, WHITE, 0.5)), 0)
        for _ in range(int(rng.integers(1, 4))):
            kind, x = int(rng.integers(5)), float(rng.uniform(-0.1, 0.9)) * w
            sw, sh = float(rng.uniform(0.15, 0.35)) * w, float(rng.uniform(0.2, 0.4)) * hz
            y = float(rng.uniform(0.05, 0.9)) * (hz - sh)
            if kind == 0:  # window
                c.draw(rect(x, y, x + sw, y + sh), flat(pick(rng, (WHITE, WOODS[1]))), 0)
                c.draw(rect(x + 2, y + 2, x + sw - 2, y + sh - 2), gradient(pick(rng, SKIES), WHITE, y, y + sh), 0)
                mx, my = x + sw / 2, y + sh / 2
                bars = (rect(mx - 1, y, mx + 1, y + sh), rect(x, my - 1, x + sw, my + 1))
                c.draw(Group(bars), flat(WHITE), 0)
            elif kind == 1:  # picture
                c.draw(rect(x, y, x + sw * 0.7, y + sh * 0.7), flat(pick(rng, WOODS + (DARK,))), 0)
                c.draw(
                    rect(x + 2, y + 2, x + sw * 0.7 - 2, y + sh * 0.7 - 2),
                    mixed(
                        tex(rng, pick(rng, PAINTS), 0.3, "coarse"),
                        tex(rng, pick(rng, GREENS), 0.3, "coarse"),
                        noise_pattern(rng, "coarse", 3.0),
                    ),
                    0,
                )
            elif kind == 2:  # book shelf
                top = float(rng.uniform(0.1, 0.5)) * hz
                bw = float(rng.uniform(0.15, 0.35)) * w
                c.draw(rect(x, top, x + bw, hz + 3), tex(rng, pick(rng, WOODS)), 0, vertical_light(1.0, 0.8))
                books = mixed(flat(pick(rng, PAINTS)), flat(pick(rng, PAINTS)), stripes(float(rng.uniform(2, 4)), 0.5))
                for sy in np.arange(top + 3, hz - 4, 9):
                    c.draw(rect(x + 2, sy, x + bw - 2, sy + 6), books, 0)
            elif kind == 3:  # lamp
                c.draw(Line(((x, hz + 4), (x, y + sh * 0.4)), 1.5), flat(DARK), 0)
                c.draw(
                    Polygon(((x - 6, y + sh * 0.4), (x + 6, y + sh * 0.4), (x + 4, y), (x - 4, y))),
                    tex(rng, rgb255(240, 225, 180)),
                    0,
                )
            else:  # rug or box on the floor
                fy = float(rng.uniform(hz + 3, h))
                if rng.random() < 0.5:
                    c.draw(
                        Ellipse(x + sw / 2, fy, sw, float(rng.uniform(3, 8))),
                        tex(rng, pick(rng, FABRICS + PAINTS), 0.2, "grain"),
                        0,
                    )
                else:
                    c.draw(
                        rect(x, fy - sh * 0.6, x + sw * 0.6, fy),
                        tex(rng, rgb255(190, 150, 100), 0.1),
                        0,
                        vertical_light(1.1, 0.8),
                    )

    def draw_outdoor(self) -> None:
        rng, c, hz, w, h = self.rng, self.canvas, self.horizon, self.w, self.h
        self.draw_sky()
        if self.kind == "street":
            x = -float(rng.uniform(0, 10))
            while x < w:
                bw, top = float(rng.uniform(0.2, 0.5)) * w, float(rng.uniform(0.05, 0.8)) * hz
                facade = mixed(
                    tex(rng, pick(rng, WALLS + WOODS[2:3]), 0.1),
                    flat(GLASS),
                    cells(float(rng.uniform(5, 9)), float(rng.uniform(6, 10)), 0.5, 0.55),
                )
                c.draw(rect(x, top, x + bw, hz + 1), facade, 0, vertical_light(1.0, 0.8))
                x += bw
            walk = hz + float(rng.uniform(0.08, 0.2)) * (h - hz)
            c.draw(rect(0, hz, w, walk), lit(tex(rng, rgb255(175, 170, 160)), tiles(6, 3, 0.5), 1.0, 0.8), 0)
            c.draw(rect(0, walk, w, h), tex(rng, rgb255(85, 85, 90), 0.2, "grain", 1.0), 0, vertical_light(0.9, 1.1))
            y = (walk + h) / 2
            c.draw(
                Group(tuple(rect(x, y, x + 10, y + 1.5) for x in np.arange(rng.uniform(-15, 0), w, 20))),
                flat(rgb255(230, 230, 220)),
                0,
            )
            return
        self.skyline(tex(rng, mix(pick(rng, GREENS), SKIES[3], 0.5), 0.1), float(rng.uniform(4, 20)))
        if rng.random() < 0.7:
            self.skyline(foliage(pick(rng, GREENS), rng, 1.5), float(rng.uniform(3, 8)))
        if self.kind == "lake":
            water = lit(
                tex(
                    rng,
                    pick(rng, (rgb255(50, 90, 130), rgb255(40, 100, 110), rgb255(70, 110, 150))),
                    0.15,
                    "medium",
                    1.0,
                ),
                stripes(float(rng.uniform(2, 4)), 0.3, "v"),
                1.0,
                1.25,
            )
            c.draw(rect(0, hz, w, h), water, 0, vertical_light(1.2, 0.85))
            if any(k != BOAT for k in self.classes):
                bank = float(rng.uniform(0.78, 0.88)) * h
                c.draw(rect(0, bank, w, h), tex(rng, pick(rng, GREENS), 0.25, "fractal", 1.0), 0)
                self.ground = (bank + 2, h * 1.02)
            return
        grass = mixed(
            tex(rng, pick(rng, GREENS), 0.25, "fractal", 1.5),
            tex(rng, rgb255(140, 140, 60), 0.2, "grain"),
            noise_pattern(rng, "coarse", 1.0),
        )
        c.draw(rect(0, hz, w, h), grass, 0, vertical_light(0.85, 1.1))
        if any(k in (CAR, BUS, MOTORBIKE, BICYCLE) for k in self.classes) and rng.random() < 0.7:
            y0 = hz + float(rng.uniform(0.25, 0.5)) * (h - hz)
            c.draw(
                rect(0, y0, w, y0 + float(rng.uniform(0.25, 0.45)) * (h - hz)),
                tex(rng, rgb255(95, 95, 95), 0.2, "grain", 1.0),
                0,
            )

    def draw_clutter(self, front: bool = False) -> None:
        """Unlabelled outdoor props: trees, bushes, rocks, posts and fences (background class)."""
        rng, c, hz = self.rng, self.canvas, self.horizon
        for _ in range(int(rng.integers(0, 2) if front else rng.integers(1, 4))):
            kind, x = int(rng.integers(4)), float(rng.uniform(0, self.w))
            y = float(rng.uniform(hz + 2, self.h + 5)) if front else float(rng.uniform(hz, hz + 0.4 * (self.h - hz)))
            s = (y - hz + 8) * float(rng.uniform(0.4, 0.9))
            if kind == 0:  # tree
                c.draw(limb((x, y), (x, y - s * 1.2), s * 0.12), tex(rng, WOODS[3], 0.2), 0)
                c.draw(
                    Group(
                        tuple(
                            disc(x + dx * s * 0.4, y - s * 1.3 + dy * s * 0.3, s * 0.4)
                            for dx, dy in rng.normal(0, 0.6, (4, 2))
                        )
                    ),
                    foliage(pick(rng, GREENS), rng, 1.5),
                    0,
                    dome_light(),
                )
            elif kind == 1:  # bush
                c.draw(Ellipse(x, y - s * 0.2, s * 0.5, s * 0.3), foliage(pick(rng, GREENS), rng, 2.0), 0)
            elif kind == 2:  # rock
                c.draw(
                    ellipse_polygon(x, y - s * 0.1, s * 0.3, s * 0.15, float(rng.uniform(-0.3, 0.3)), 7),
                    tex(rng, rgb255(130, 125, 115), 0.25, "fractal"),
                    0,
                    dome_light(),
                )
            else:  # post / pole or fence
                if rng.random() < 0.5:
                    c.draw(limb((x, y), (x, y - s * 2.0), max(s * 0.06, 1.5)), tex(rng, pick(rng, (METAL,) + WOODS)), 0)
                else:
                    wood = tex(rng, pick(rng, WOODS + (WHITE,)))
                    posts = tuple(
                        rect(px, y - s * 0.6, px + s * 0.06, y) for px in np.arange(x - s * 1.5, x + s * 1.5, s * 0.5)
                    )
                    rails = (
                        rect(x - s * 1.5, y - s * 0.5, x + s * 1.5, y - s * 0.44),
                        rect(x - s * 1.5, y - s * 0.3, x + s * 1.5, y - s * 0.24),
                    )
                    c.draw(Group(posts + rails), wood, 0)

    # -------------------------------------------------------------------------------------- objects

    def place_object(self, label: int) -> tuple[float, Callable[[], None]]:
        """Build, size and position one object; returns (depth key, draw function)."""
        rng, w, h = self.rng, self.w, self.h
        obj = BUILDERS[label](rng)
        if obj.where == "water" and self.kind != "lake":
            obj.under.insert(
                0,
                Part(
                    Ellipse(0.0, 0.0, 0.8, 0.12),
                    lit(tex(rng, rgb255(50, 90, 130), 0.15, "medium"), stripes(3.0, 0.3, "v"), 1.0, 1.25),
                    0,
                ),
            )
        x0, y0, x1, y1 = bounds(obj.parts)
        bw, bh = x1 - x0, y1 - y0
        area = float(rng.uniform(0.1, 0.36)) * h * w * AREA_GAIN.get(label, 1.0)
        area *= 1.5 if len(self.classes) == 1 else 1.0
        scale = np.sqrt(area / (labelled_fill(obj.parts) * bw * bh))
        if obj.where == "sky":
            fy = float(rng.uniform(0.15, 0.45)) * self.horizon + 0.1 * h
        elif obj.where == "water" and self.kind == "lake":
            fy = float(rng.uniform(self.horizon + 0.25 * (h - self.horizon), h * 0.97))
        else:
            fy = float(rng.uniform(*self.ground))
            scale *= 0.75 + 0.35 * (fy - self.ground[0]) / max(self.ground[1] - self.ground[0], 1.0)
        scale = min(scale, MAX_WIDTH.get(label, 0.85) * w / bw, 1.05 * h / bh)
        if obj.where != "sky":
            scale = min(scale, max(fy, 0.5 * h) / (bh - 0.5 * min(0.0, bounds(obj.under)[1] if obj.under else 0.0)))
        scale = max(scale, 0.18 * w / max(bw, bh))
        half = min(0.3 * bw * scale, 0.45 * w)
        fx = float(rng.uniform(half, w - half))
        flip = bool(rng.random() < 0.5)
        cx = (x0 + x1) / 2
        foot = (y0 + y1) / 2 if obj.where == "sky" else min(y0, bounds(obj.under)[1] if obj.under else y0)
        px, py = fx - (-scale if flip else scale) * cx, fy + scale * foot
        parts, under = place(obj.parts, px, py, scale, flip), place(obj.under, px, py, scale, flip)

        def draw() -> None:
            c = self.canvas
            c.draw_parts(under)
            if obj.where == "water":
                mirror = place(mapped(obj.parts, lambda q: (q[0], -q[1])), px, py, scale, flip)
                c.draw_parts([replace(p, label=None, opacity=0.3) for p in mirror])
            elif obj.where == "ground":
                c.darken(Ellipse(fx, fy, bw * scale * 0.5, max(2.0, bw * scale * 0.06)), 0.6, 1.5)
            c.draw_parts(parts)

        return (-1.0 if obj.where == "sky" else fy), draw

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """Draw the scene; returns image (H, W, 3) float32 in [0, 1] and label (H, W) uint8 (255 = boundary)."""
        if self.kind == "room":
            self.draw_room()
        else:
            self.draw_outdoor()
            self.draw_clutter()
        placed = [self.place_object(k) for k in self.classes]
        for _, draw in sorted(placed, key=lambda d: d[0]):
            draw()
        if self.kind != "room" and self.rng.random() < 0.3:
            self.draw_clutter(front=True)
        # The band is marked at 2x (2 canvas px = 1 output px, centred on the edge), then shrunk with the label.
        label = downsample_label(ignore_boundaries(self.canvas.label), SCALE)
        image = camera_effects(downsample_image(self.canvas.image, SCALE), self.rng, float(self.rng.uniform(0.6, 1.0)))
        return image.astype(np.float32), label


def render_voc(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """image (H, W, 3) float32 in [0, 1] and label (H, W) uint8: 0 background, 1..20 VOC classes, 255 ignore band."""
    return VocScene(rng, height, width).render()
