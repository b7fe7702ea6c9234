"""Bottles, chairs, dining tables, sofas, TV monitors and potted plants."""

from __future__ import annotations

import numpy as np

from uwl_utils.data.synthetic.render import (
    Ellipse,
    Group,
    Line,
    Part,
    Polygon,
    blend,
    cylinder_light,
    dome_light,
    ellipse_polygon,
    flat,
    foliage,
    limb,
    lit,
    mixed,
    noise_pattern,
    rect,
    rgb255,
    stripes,
    tiles,
    vertical_light,
)
from uwl_utils.data.synthetic.voc.parts import (
    BOTTLE,
    CHAIR,
    DARK,
    DININGTABLE,
    FABRICS,
    GREENS,
    PAINTS,
    POTTEDPLANT,
    SOFA,
    TVMONITOR,
    WALLS,
    WHITE,
    WOODS,
    Obj,
    disc,
    mapped,
    pick,
    shade,
    tex,
)


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
