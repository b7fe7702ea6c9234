"""Street furniture and trees (a mixin of :class:`StreetScene`)."""

from __future__ import annotations

import numpy as np

from uwl_utils.data.synthetic.city.constants import CLOTHES, GREENS, IGNORE, LIGHT, MIN_POLE_PX, POLE, SIGN, VEGETATION
from uwl_utils.data.synthetic.render import (
    Ellipse,
    Group,
    Line,
    Paint,
    Point,
    Polygon,
    cylinder_light,
    dome_light,
    flat,
    foliage,
    horizontal_light,
    lit,
    mix,
    mixed,
    rect,
    rgb255,
    stripes,
    textured,
    vary,
    vertical_light,
)


class FurnitureMixin:
    """Poles, street lamps, traffic signs and lights, trees and unlabelled clutter."""

    def pole_width(self, z: float, metres: float) -> float:
        """A pole's drawn width in metres: its true width, at least MIN_POLE_PX pixels."""
        return max(metres, MIN_POLE_PX / self.cam.scale(z))

    def pole_paint(self, z: float) -> Paint:
        colour = self.pick((rgb255(130, 130, 135), rgb255(90, 95, 100), rgb255(60, 80, 70), rgb255(160, 160, 160)))
        return self.fog(textured(colour, self.rng, 0.06, "fine"), z)

    def draw_pole(self, x: float, z: float, h: float, metres: float = 0.16) -> Paint:
        """A vertical pole from the ground to height h; returns its paint for attached arms."""
        w = self.pole_width(z, metres)
        paint = self.pole_paint(z)
        self.canvas.draw(
            self.front_quad(z, x - w / 2, x + w / 2, 0, h),
            paint,
            POLE,
            light=cylinder_light(0.3 if self.sun < 0 else 0.7),
        )
        self.canvas.darken(self.ground_quad(x, x - self.sun * 2.5, z, z + 0.25), 0.7)
        return paint

    def draw_arm(self, paint: Paint, z: float, a: Point, b: Point) -> None:
        """A pole arm between (X, Y) points a and b at depth z."""
        w = self.pole_width(z, 0.12) * self.cam.scale(z)
        pa, pb = self.cam.project(a[0], a[1], z), self.cam.project(b[0], b[1], z)
        self.canvas.draw(Line((pa, pb), w), paint, POLE, light=vertical_light(1.1, 0.8))

    def draw_street_lamp(self, x: float, z: float) -> None:
        rng = self.rng
        h = float(rng.uniform(5.5, 8.5))
        paint = self.draw_pole(x, z, h, 0.18)
        reach = -np.sign(x) * float(rng.uniform(0.8, 2.0))
        self.draw_arm(paint, z, (x, h - 0.1), (x + reach, h + 0.2))
        s = self.cam.scale(z)
        cx, cy = self.cam.project(x + reach, h + 0.1, z)
        self.canvas.draw(Ellipse(cx, cy, max(0.35 * s, 3.0), max(0.12 * s, 2.0)), paint, POLE)

    def draw_span_pole(self, x: float, z: float, wire_x: float, wire_y: float) -> None:
        """A catenary pole beside the tram line with its cantilever arm."""
        paint = self.draw_pole(x, z, wire_y + 1.5, 0.25)
        self.draw_arm(paint, z, (x, wire_y + 1.2), (wire_x, wire_y + 0.9))
        self.draw_arm(paint, z, (x, wire_y + 0.2), (wire_x, wire_y))

    def draw_sign_post(self, x: float, z: float, n: int) -> None:
        rng = self.rng
        h = float(rng.uniform(2.4, 3.2)) + 0.8 * (n - 1)
        self.draw_pole(x, z, h, 0.08)
        for i in range(n):
            self.draw_sign(x, h - 0.45 - i * 0.85, z, bool(rng.random() < 0.2))

    def draw_sign(self, x: float, y: float, z: float, back: bool) -> None:
        """A traffic sign centred at (x, y); at least ~5 px across. Backs are grey plates."""
        rng, c = self.rng, self.canvas
        s = self.cam.scale(z)
        size = max(float(rng.uniform(0.6, 0.85)), 5.0 / s)
        cx, cy = self.cam.project(x, y, z)
        r = size * s / 2
        kind = rng.choice(["round", "triangle", "square", "rect", "blue"])
        red, white, blue = rgb255(200, 25, 30), rgb255(240, 240, 240), rgb255(20, 70, 170)
        yellow = rgb255(240, 200, 30)
        f = self.face_light(0)
        if back:
            c.draw(
                Ellipse(cx, cy, r, r) if kind in ("round", "blue") else rect(cx - r, cy - r, cx + r, cy + r),
                self.fog(flat(rgb255(140, 140, 145)), z),
                SIGN,
                light=vertical_light(f, f * 0.8),
            )
            return
        if kind in ("round", "blue"):
            c.draw(Ellipse(cx, cy, r, r), self.fog(flat(red if kind == "round" else white), z), SIGN)
            c.draw(Ellipse(cx, cy, r * 0.72, r * 0.72), self.fog(flat(white if kind == "round" else blue), z), SIGN)
        elif kind == "triangle":
            c.draw(
                Polygon(((cx, cy - r * 1.1), (cx + r * 1.1, cy + r * 0.8), (cx - r * 1.1, cy + r * 0.8))),
                self.fog(flat(red), z),
                SIGN,
            )
            c.draw(
                Polygon(((cx, cy - r * 0.5), (cx + r * 0.6, cy + r * 0.5), (cx - r * 0.6, cy + r * 0.5))),
                self.fog(flat(white), z),
                SIGN,
            )
        elif kind == "square":
            c.draw(Polygon(((cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy))), self.fog(flat(white), z), SIGN)
            c.draw(
                Polygon(((cx, cy - r * 0.7), (cx + r * 0.7, cy), (cx, cy + r * 0.7), (cx - r * 0.7, cy))),
                self.fog(flat(yellow), z),
                SIGN,
            )
        else:
            colour = [blue, yellow, rgb255(20, 110, 60)][int(rng.integers(3))]
            text = lit(flat(colour), stripes(max(r * 0.3, 1.0), 0.6, "v"), 1.0, 1.8)
            c.draw(rect(cx - r * 1.5, cy - r * 0.7, cx + r * 1.5, cy + r * 0.7), self.fog(text, z), SIGN)

    def draw_light_pole(self, x: float, z: float, side: int) -> None:
        """A traffic-light pole: a head on the pole, often a second one on a mast arm over the road."""
        rng = self.rng
        h = float(rng.uniform(3.0, 4.0))
        mast = rng.random() < 0.55
        paint = self.draw_pole(x, z, h + (2.4 if mast else 0.6), 0.2)
        self.draw_traffic_light(x - side * 0.35, h - 0.3, z, bool(rng.random() < 0.25))
        if rng.random() < 0.5:
            self.draw_sign(x, h - 1.5, z, False)
        if mast:
            reach = float(rng.uniform(3, 6))
            self.draw_arm(paint, z, (x, h + 2.2), (x - side * reach, h + 2.2))
            self.draw_traffic_light(x - side * reach * 0.8, h + 1.3, z, False)

    def draw_traffic_light(self, x: float, y: float, z: float, back: bool) -> None:
        """Three-lamp head with a backboard; at least 4 px wide. Backs show the dark housing only."""
        rng, c = self.rng, self.canvas
        s = self.cam.scale(z)
        w = max(0.32, 4.0 / s)
        h = w * 2.8
        cx, cy = self.cam.project(x, y, z)
        pw, ph = w * s / 2, h * s / 2
        board = rng.random() < 0.5
        dark = self.fog(flat(vary(rgb255(35, 35, 38), rng, 0.02, 0.2, 0.4)), z)
        yellow_housing = rng.random() < 0.25
        housing = self.fog(flat(rgb255(200, 160, 30)), z) if yellow_housing else dark
        if board:
            c.draw(
                rect(cx - pw * 1.45, cy - ph * 1.12, cx + pw * 1.45, cy + ph * 1.12),
                self.fog(flat(rgb255(230, 230, 225)), z),
                LIGHT,
            )
            c.draw(rect(cx - pw * 1.3, cy - ph * 1.05, cx + pw * 1.3, cy + ph * 1.05), dark, LIGHT)
        c.draw(rect(cx - pw, cy - ph, cx + pw, cy + ph), housing, LIGHT, light=horizontal_light(1.1, 0.8))
        if back:
            return
        on = int(rng.integers(3))
        colours = (rgb255(230, 30, 20), rgb255(250, 170, 20), rgb255(40, 220, 110))
        for i, colour in enumerate(colours):
            ly = cy - ph + ph * (0.36 + 0.64 * i)
            lamp = colour if i == on else mix(colour, (0.1, 0.1, 0.1), 0.75)
            c.draw(Ellipse(cx, ly, pw * 0.65, pw * 0.65), flat(lamp), LIGHT)

    def draw_tree(self, x: float, z: float, size: float) -> None:
        rng, c, cam = self.rng, self.canvas, self.cam
        s = cam.scale(z)
        h = float(rng.uniform(4.5, 9.0)) * size
        trunk_w = max(float(rng.uniform(0.25, 0.4)) * size, 2.0 / s)
        bark = self.fog(textured(self.pick((rgb255(80, 65, 50), rgb255(100, 90, 75))), rng, 0.2, "grain"), z)
        c.draw(
            self.front_quad(z, x - trunk_w / 2, x + trunk_w / 2, 0, h * 0.6),
            bark,
            VEGETATION,
            light=cylinder_light(0.3 if self.sun < 0 else 0.7),
        )
        radius = float(rng.uniform(0.25, 0.4)) * h
        cx, cy = cam.project(x, h - radius, z)
        green = self.pick(GREENS, 0.2)
        if rng.random() < 0.15:
            green = mix(green, rgb255(190, 150, 50), float(rng.uniform(0.3, 0.7)))  # autumn
        blobs = [Ellipse(cx, cy, radius * s, radius * s * 0.95)]
        for _ in range(int(rng.integers(4, 8))):
            a = rng.uniform(0, 2 * np.pi)
            d = radius * s * float(rng.uniform(0.4, 0.75))
            r = radius * s * float(rng.uniform(0.45, 0.7))
            blobs.append(Ellipse(cx + d * np.cos(a), cy + d * np.sin(a) * 0.8, r, r * 0.9))
        light = 0.3 if self.sun < 0 else 0.7
        c.draw(
            Group(tuple(blobs)),
            self.fog(foliage(green, rng, float(np.clip(12 / s, 0.5, 2.0))), z),
            VEGETATION,
            light=dome_light(light, 0.3, 0.55 if not self.overcast else 0.75, 0.55),
        )
        if z < 60:
            self.canvas.darken(
                self.ground_quad(x - radius, x + radius, z - radius * 0.6, z + radius * 0.6), 0.75, blur=1.0
            )

    def draw_clutter(self, x: float, z: float) -> None:
        """Unlabelled street clutter: a bin, a bench or an advertising pillar (ignore label)."""
        rng, c = self.rng, self.canvas
        kind = rng.choice(["bin", "bench", "pillar"], p=[0.5, 0.3, 0.2])
        colour = self.pick((rgb255(60, 90, 60), rgb255(200, 120, 30), rgb255(90, 90, 95), rgb255(140, 90, 60)))
        paint = self.fog(textured(colour, rng, 0.1, "fine"), z)
        if kind == "bin":
            c.draw(self.front_quad(z, x - 0.3, x + 0.3, 0, 1.0), paint, IGNORE, light=cylinder_light())
        elif kind == "bench":
            c.draw(self.front_quad(z, x - 0.9, x + 0.9, 0.4, 0.5), paint, IGNORE)
            c.draw(self.front_quad(z, x - 0.9, x + 0.9, 0.6, 0.9), paint, IGNORE, light=vertical_light())
            for dx in (-0.8, 0.7):
                c.draw(self.front_quad(z, x + dx, x + dx + 0.1, 0, 0.45), flat((0.15, 0.15, 0.15)), IGNORE)
        else:
            posters = mixed(
                paint,
                textured(self.pick(CLOTHES), rng, 0.3, "medium", 2.0),
                stripes(0.8, 0.6, "v", uv=self.cam.front_xy(z)),
            )
            c.draw(self.front_quad(z, x - 0.6, x + 0.6, 0, 2.8), posters, IGNORE, light=cylinder_light())
