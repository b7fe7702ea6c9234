"""Aeroplanes, bicycles, boats, buses, cars, motorbikes and trains as side-view silhouettes."""

from __future__ import annotations

import numpy as np

from uwl_utils.data.synthetic.render import (
    Group,
    Line,
    Part,
    Polygon,
    dome_light,
    ellipse_polygon,
    flat,
    lit,
    rect,
    rgb255,
    stripes,
    vertical_light,
)
from uwl_utils.data.synthetic.voc.parts import (
    AEROPLANE,
    BICYCLE,
    BOAT,
    BUS,
    CAR,
    DARK,
    GLASS,
    METAL,
    MOTORBIKE,
    PAINTS,
    TRAIN,
    TYRE,
    WHITE,
    WOODS,
    Obj,
    disc,
    pick,
    rotated,
    shade,
    tex,
    wheel,
)


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
