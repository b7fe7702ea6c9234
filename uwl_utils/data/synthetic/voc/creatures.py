"""Persons and animals: cats, dogs, horses, cows, sheep and birds."""

from __future__ import annotations

import numpy as np

from uwl_utils.data.synthetic.render import (
    Ellipse,
    Group,
    Line,
    Paint,
    Part,
    Point,
    Polygon,
    dome_light,
    ellipse_polygon,
    flat,
    limb,
    lit,
    mix,
    mixed,
    noise_pattern,
    rect,
    rgb255,
    stripes,
    threshold,
    vertical_light,
)
from uwl_utils.data.synthetic.voc.parts import (
    BIRD,
    BLACK,
    CAT,
    CLOTHES,
    COW,
    DARK,
    DOG,
    HAIR,
    HORSE,
    PERSON,
    SHEEP,
    SKIN,
    TROUSERS,
    WHITE,
    Obj,
    disc,
    pick,
    rotated,
    shade,
    tex,
)


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
