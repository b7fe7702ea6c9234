"""Persons, riders and two-wheelers (a mixin of :class:`StreetScene`)."""

from __future__ import annotations

import numpy as np

from uwl_utils.data.synthetic.city.constants import (
    BICYCLE,
    CAR_COLOURS,
    CLOTHES,
    MOTORCYCLE,
    PERSON,
    RIDER,
    SKIN,
    TROUSERS,
)
from uwl_utils.data.synthetic.render import (
    RGB,
    Ellipse,
    Group,
    Part,
    Polygon,
    dome_light,
    flat,
    limb,
    place,
    rect,
    rgb255,
    textured,
    vertical_light,
)


class PeopleMixin:
    """Pedestrians, and riders on bicycles and motorcycles."""

    def person_parts(self, h: float, colours: tuple[RGB, RGB, RGB], view: str, phase: float) -> list[Part]:
        """A pedestrian in local metres (origin between the feet): 'front', 'back' or 'side' view."""
        rng = self.rng
        top, legs, skin = (textured(c, rng, 0.08, "fine", 2.0) for c in colours)
        hair = flat(self.pick((rgb255(30, 25, 20), rgb255(90, 60, 35), rgb255(180, 150, 90), rgb255(60, 60, 60))))
        shoes = flat(rgb255(30, 30, 30))
        hip, shoulder, head = 0.5 * h, 0.81 * h, 0.93 * h
        bulk = float(rng.uniform(0.9, 1.15))
        parts: list[Part] = []
        if view == "side":
            stride = 0.22 * h * np.sin(phase)
            for sgn in (-1, 1):
                parts.append(Part(limb((0, hip), (sgn * stride, 0.05), 0.14 * bulk), legs, PERSON))
                parts.append(Part(limb((sgn * stride - 0.03, 0.03), (sgn * stride + 0.1, 0.03), 0.07), shoes, PERSON))
            torso_w = 0.13 * bulk
        else:
            for sgn in (-1, 1):
                parts.append(Part(limb((sgn * 0.09, hip), (sgn * 0.1, 0.05), 0.15 * bulk), legs, PERSON))
                parts.append(Part(limb((sgn * 0.1, 0.04), (sgn * 0.11, 0.04), 0.1), shoes, PERSON))
            torso_w = 0.2 * bulk
        coat = rng.random() < 0.35
        bottom = hip - (0.2 * h if coat else 0.0)
        parts.append(
            Part(
                Polygon(
                    ((-torso_w, bottom), (torso_w, bottom), (torso_w * 1.05, shoulder), (-torso_w * 1.05, shoulder))
                ),
                top,
                PERSON,
                vertical_light(1.1, 0.85),
            )
        )
        swing = 0.15 * h * np.sin(phase) if view == "side" else 0.0
        arm_x = 0.0 if view == "side" else torso_w + 0.04
        for sgn in (-1, 1):
            parts.append(
                Part(
                    limb((sgn * arm_x, shoulder - 0.03), (sgn * arm_x - sgn * swing, hip - 0.05), 0.09 * bulk),
                    top,
                    PERSON,
                )
            )
        parts.append(Part(limb((0, shoulder), (0, head - 0.05), 0.09), skin, PERSON))
        parts.append(Part(Ellipse(0, head, 0.1, 0.12), skin if view != "back" else hair, PERSON, dome_light()))
        parts.append(Part(Ellipse(0, head + 0.05, 0.1, 0.07), hair, PERSON))
        if rng.random() < 0.3:  # bag
            parts.append(
                Part(
                    Polygon(((torso_w, hip), (torso_w + 0.22, hip), (torso_w + 0.2, hip + 0.3), (torso_w, hip + 0.3))),
                    flat(self.pick(CLOTHES)),
                    PERSON,
                )
            )
        return parts

    def draw_person(self, x: float, z: float) -> None:
        rng = self.rng
        h = float(rng.uniform(1.55, 1.9)) if rng.random() < 0.85 else float(rng.uniform(1.0, 1.3))
        colours = (self.pick(CLOTHES), self.pick(TROUSERS), self.pick(SKIN))
        view = str(rng.choice(["front", "back", "side"]))
        parts = self.person_parts(h, colours, view, float(rng.uniform(0, 2 * np.pi)))
        self.draw_figure(parts, x, z, bool(rng.random() < 0.5))

    def draw_figure(self, parts: list[Part], x: float, z: float, flip: bool) -> None:
        """Draw local-metre parts standing at (x, z), with a soft ground shadow."""
        s = self.cam.scale(z)
        fx, fy = self.cam.project(x, 0, z)
        self.canvas.darken(Ellipse(fx - self.sun * 0.3 * s, fy, 0.6 * s, 0.12 * s), 0.65, blur=0.5)
        self.canvas.draw_parts(
            place(
                [Part(p.shape, self.fog(p.paint, z), p.label, p.light, p.opacity, p.cover) for p in parts],
                fx,
                fy,
                s,
                flip,
            )
        )

    def wheel_parts(self, cx: float, r: float, label: int, spoked: bool) -> list[Part]:
        """A wheel seen from the side; spoked wheels are see-through but labelled as a whole disc."""
        tyre = flat(rgb255(25, 25, 25))
        parts = []
        if spoked:
            haze = flat(rgb255(90, 90, 90))
            parts.append(Part(Ellipse(cx, r, r, r), haze, label, opacity=0.35))
            spokes = Group(
                tuple(
                    limb((cx + r * np.cos(a), r + r * np.sin(a)), (cx - r * np.cos(a), r - r * np.sin(a)), 0.015)
                    for a in np.linspace(0, np.pi, 5, endpoint=False)
                )
            )
            parts.append(Part(spokes, flat(rgb255(170, 170, 175)), label))
            parts.append(Part(Ellipse(cx, r, r, r, 0.06), tyre, label))
        else:
            parts.append(Part(Ellipse(cx, r, r, r), tyre, label))
            parts.append(Part(Ellipse(cx, r, r * 0.55, r * 0.55), flat(rgb255(160, 160, 165)), label, dome_light()))
            parts.append(Part(Ellipse(cx, r, r * 0.2, r * 0.2), flat(rgb255(60, 60, 60)), label))
        return parts

    def bicycle_parts(self, frame: RGB) -> list[Part]:
        """A bicycle in side view (local metres, facing +x)."""
        paint = flat(frame)
        r = 0.34
        parts = self.wheel_parts(-0.52, r, BICYCLE, True) + self.wheel_parts(0.52, r, BICYCLE, True)
        tubes = [((0.0, 0.3), (-0.14, 0.85)), ((-0.14, 0.85), (0.42, 0.85)), ((0.0, 0.3), (0.42, 0.8)),
                 ((0.0, 0.3), (-0.52, r)), ((-0.14, 0.85), (-0.52, r)), ((0.42, 0.85), (0.52, r)),
                 ((0.42, 0.85), (0.4, 1.0))]  # fmt: skip
        parts += [Part(limb(a, b, 0.05), paint, BICYCLE) for a, b in tubes]
        parts.append(Part(limb((0.33, 1.0), (0.47, 1.0), 0.05), flat(rgb255(30, 30, 30)), BICYCLE))
        parts.append(Part(limb((-0.22, 0.92), (-0.06, 0.92), 0.06), flat(rgb255(30, 30, 30)), BICYCLE))
        return parts

    def motorcycle_parts(self, body: RGB) -> list[Part]:
        """A motorcycle in side view (local metres, facing +x)."""
        rng = self.rng
        paint = textured(body, rng, 0.06, "fine")
        dark, chrome = flat(rgb255(40, 40, 42)), flat(rgb255(190, 190, 195))
        r = 0.32
        parts = self.wheel_parts(-0.7, r, MOTORCYCLE, False) + self.wheel_parts(0.72, r, MOTORCYCLE, False)
        parts.append(
            Part(
                Polygon(((-0.3, 0.25), (0.35, 0.25), (0.45, 0.6), (-0.3, 0.65))),
                dark,
                MOTORCYCLE,
                vertical_light(1.0, 0.7),
            )
        )
        parts.append(Part(limb((-0.55, 0.3), (0.1, 0.25), 0.07), chrome, MOTORCYCLE))
        parts.append(
            Part(
                Polygon(((-0.05, 0.65), (0.5, 0.7), (0.45, 0.95), (0.05, 0.92))),
                paint,
                MOTORCYCLE,
                dome_light(0.4, 0.2),
            )
        )
        parts.append(Part(Polygon(((-0.7, 0.68), (-0.05, 0.68), (-0.05, 0.82), (-0.65, 0.8))), dark, MOTORCYCLE))
        parts.append(Part(Polygon(((-0.85, 0.55), (-0.55, 0.6), (-0.6, 0.75), (-0.9, 0.7))), paint, MOTORCYCLE))
        parts.append(Part(limb((0.72, r), (0.5, 1.05), 0.06), chrome, MOTORCYCLE))
        parts.append(Part(Polygon(((0.45, 0.8), (0.7, 0.85), (0.72, 1.1), (0.5, 1.1))), paint, MOTORCYCLE))
        parts.append(Part(Ellipse(0.68, 0.95, 0.05, 0.06), flat(rgb255(250, 245, 200)), MOTORCYCLE))
        return parts

    def rider_parts(self, colours: tuple[RGB, RGB, RGB], motor: bool) -> list[Part]:
        """A rider seated on a two-wheeler (side view, facing +x): leaning torso, arms to the bar, helmet."""
        rng = self.rng
        top, legs, skin = (textured(c, rng, 0.08, "fine", 2.0) for c in colours)
        helmet = flat(self.pick((rgb255(30, 30, 30), rgb255(230, 230, 230), rgb255(200, 40, 40), rgb255(40, 80, 180))))
        if motor:
            hip, shoulder, head, hand, knee, foot = (
                (-0.3, 0.85),
                (-0.05, 1.45),
                (0.02, 1.65),
                (0.5, 1.08),
                (0.2, 0.78),
                (0.1, 0.35),
            )
        else:
            hip, shoulder, head, hand, knee, foot = (
                (-0.14, 0.95),
                (0.15, 1.42),
                (0.26, 1.6),
                (0.42, 1.02),
                (0.15, 0.7),
                (0.05, 0.22),
            )
        parts = [
            Part(limb(hip, knee, 0.15), legs, RIDER),
            Part(limb(knee, foot, 0.13), legs, RIDER),
            Part(limb(foot, (foot[0] + 0.12, foot[1] - 0.02), 0.08), flat(rgb255(30, 30, 30)), RIDER),
            Part(limb(hip, shoulder, 0.3), top, RIDER, vertical_light(1.1, 0.85)),
            Part(limb(shoulder, hand, 0.09), top, RIDER),
            Part(limb(shoulder, head, 0.09), skin, RIDER),
        ]
        wears_helmet = motor or rng.random() < 0.6
        parts.append(
            Part(
                Ellipse(head[0], head[1], 0.12 if wears_helmet else 0.1, 0.12),
                helmet if wears_helmet else skin,
                RIDER,
                dome_light(),
            )
        )
        return parts

    def draw_two_wheeler(self, x: float, z: float, kind: int, rider: tuple[RGB, RGB, RGB] | None, flip: bool) -> None:
        """A bicycle or motorcycle in side view, ridden (rider label) or parked."""
        motor = kind == MOTORCYCLE
        colour = self.pick(CAR_COLOURS if motor else CLOTHES, 0.2)
        parts = self.motorcycle_parts(colour) if motor else self.bicycle_parts(colour)
        if rider is not None:  # the far leg behind the bike, the rest of the rider in front
            rider_parts = self.rider_parts(rider, motor)
            parts = rider_parts[:3] + parts + rider_parts[3:]
        self.draw_figure(parts, x, z, flip)

    def draw_rider_from_behind(self, x: float, z: float, kind: int, colours: tuple[RGB, RGB, RGB]) -> None:
        """A rider on a bicycle or motorcycle seen from behind in the traffic lane."""
        rng = self.rng
        motor = kind == MOTORCYCLE
        top, legs, skin = (textured(c, rng, 0.08, "fine", 2.0) for c in colours)
        dark = flat(rgb255(25, 25, 25))
        helmet = flat(self.pick((rgb255(30, 30, 30), rgb255(230, 230, 230), rgb255(200, 40, 40))))
        s = self.cam.scale(z)
        tyre_w = max(0.16 if motor else 0.05, 3.0 / s)
        seat = 0.8 if motor else 0.95
        parts = [Part(rect(-tyre_w / 2, 0.0, tyre_w / 2, 0.62), dark, kind)]
        if motor:
            body = textured(self.pick(CAR_COLOURS), rng, 0.06, "fine")
            parts += [
                Part(Polygon(((-0.22, 0.45), (0.22, 0.45), (0.3, 0.8), (-0.3, 0.8))), body, kind),
                Part(rect(-0.1, 0.5, 0.1, 0.58), flat(rgb255(220, 30, 30)), kind),
                Part(limb((-0.35, 1.05), (0.35, 1.05), 0.05), dark, kind),
                Part(rect(0.22, 0.3, 0.36, 0.45), flat(rgb255(190, 190, 195)), kind),
            ]
        else:
            parts += [
                Part(rect(-0.12, 0.62, 0.12, 0.7), dark, kind),
                Part(limb((-0.28, 1.0), (0.28, 1.0), 0.04), dark, kind),
                Part(rect(-0.06, 0.35, 0.06, seat), flat(self.pick(CLOTHES)), kind),
            ]
        for sgn in (-1, 1):
            parts.append(Part(limb((sgn * 0.12, seat), (sgn * 0.2, 0.3 if not motor else 0.4), 0.14), legs, RIDER))
        parts += [
            Part(
                Polygon(((-0.2, seat), (0.2, seat), (0.24, seat + 0.55), (-0.24, seat + 0.55))),
                top,
                RIDER,
                vertical_light(1.1, 0.85),
            ),
            Part(limb((-0.24, seat + 0.5), (-0.3, 1.0), 0.09), top, RIDER),
            Part(limb((0.24, seat + 0.5), (0.3, 1.0), 0.09), top, RIDER),
            Part(
                Ellipse(0, seat + 0.68, 0.12, 0.13),
                helmet if (motor or rng.random() < 0.6) else skin,
                RIDER,
                dome_light(),
            ),
        ]
        self.draw_figure(parts, x, z, False)
