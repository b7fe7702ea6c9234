"""Road and rail vehicles (a mixin of :class:`StreetScene`)."""

from __future__ import annotations

import numpy as np

from uwl_utils.data.synthetic.city.constants import (
    BUS,
    BUS_COLOURS,
    CAR,
    CAR_COLOURS,
    TRAIN,
    TRAM_BODIES,
    TRAM_STRIPES,
    TRUCK,
)
from uwl_utils.data.synthetic.render import (
    Ellipse,
    Group,
    Line,
    Paint,
    flat,
    lit,
    mix,
    mixed,
    rgb255,
    stripes,
    textured,
    vary,
    vertical_light,
)


class VehiclesMixin:
    """Cars, trucks, buses and trams, with their wheels, windows and shadows."""

    def draw_wheel_on_side(self, x: float, zc: float, r: float, z_ref: float, label: int) -> None:
        """A vehicle wheel on the side plane X = x, centred at depth zc."""
        p = self.cam.project
        (xa, _), (xb, _) = p(x, r, zc - r), p(x, r, zc + r)
        cx, cy = p(x, r, zc)
        ry = r * self.cam.scale(zc)
        rx = max(abs(xa - xb) / 2, 0.8)
        self.canvas.draw(Ellipse(cx, cy, rx, ry), self.fog(flat(rgb255(22, 22, 22)), z_ref), label)
        self.canvas.draw(Ellipse(cx, cy, rx * 0.55, ry * 0.55), self.fog(flat(rgb255(150, 150, 155)), z_ref), label)

    def draw_vehicle(self, x: float, z: float, kind: str, length: float, toward: bool) -> None:
        """A car, truck or bus as a box: the face towards the camera plus the visible side."""
        if kind == "car":
            self.draw_car(x, z, length, toward)
        elif kind == "truck":
            self.draw_truck(x, z, length, toward)
        else:
            self.draw_bus(x, z, length, toward)

    def visible_side(self, x: float, width: float) -> float | None:
        """X of the vehicle side facing the camera axis, or None when seen straight on."""
        if x - width / 2 > 0.3:
            return x - width / 2
        if x + width / 2 < -0.3:
            return x + width / 2
        return None

    def shadow_under(self, x: float, z: float, width: float, length: float) -> None:
        self.canvas.darken(
            self.ground_quad(x - width / 2 - 0.1, x + width / 2 + 0.1, z - 0.2, z + length), 0.45, blur=0.6
        )

    def glass_paint(self, z: float) -> Paint:
        glass = textured(vary(rgb255(50, 60, 75), self.rng, 0.05, 0.3, 0.3), self.rng, 0.25, "coarse", 3.0)
        return self.fog(glass, z)

    def draw_car(self, x: float, z: float, length: float, toward: bool) -> None:
        rng, c = self.rng, self.canvas
        w = float(rng.uniform(1.7, 1.9))
        hb, hc = float(rng.uniform(0.85, 1.0)), float(rng.uniform(1.4, 1.55))
        body = self.fog(textured(self.pick(CAR_COLOURS), rng, 0.05, "fine"), z)
        glass = self.glass_paint(z)
        self.shadow_under(x, z, w, length)
        side = self.visible_side(x, w)
        if side is not None:
            normal = 1 if side > x else -1
            lum = self.face_light(normal)
            front, back = (z, z + length) if toward else (z + length, z)
            sgn = 1 if front > back else -1  # +1 when the car's front is farther away
            hood = front - sgn * 1.0
            cabin = [(back + sgn * 0.3, hb), (back + sgn * 0.8, hc), (hood - sgn * 0.6, hc), (hood, hb)]
            c.draw(
                self.side_poly(side, [(back, 0.3), (back, hb), (hood, hb), (front, hb - 0.15), (front, 0.3)]),
                body,
                CAR,
                light=vertical_light(lum * 1.1, lum * 0.8),
            )
            c.draw(self.side_poly(side, cabin), body, CAR, light=vertical_light(lum * 1.2, lum))
            inset = [
                (back + sgn * 0.45, hb + 0.05),
                (back + sgn * 0.85, hc - 0.07),
                (hood - sgn * 0.65, hc - 0.07),
                (hood - sgn * 0.15, hb + 0.05),
            ]
            c.draw(self.side_poly(side, inset), glass, CAR)
            for zc in (back + sgn * 0.8, front - sgn * 0.85):
                self.draw_wheel_on_side(side, zc, 0.33, z, CAR)
        f = self.face_light(0)
        c.draw(self.front_quad(z, x - w / 2, x + w / 2, 0.3, hb), body, CAR, light=vertical_light(f * 1.1, f * 0.8))
        c.draw(
            self.front_poly(
                z, [(x - w / 2 + 0.12, hb), (x + w / 2 - 0.12, hb), (x + w / 2 - 0.3, hc), (x - w / 2 + 0.3, hc)]
            ),
            body,
            CAR,
            light=vertical_light(f * 1.2, f),
        )
        c.draw(
            self.front_poly(
                z,
                [
                    (x - w / 2 + 0.2, hb + 0.04),
                    (x + w / 2 - 0.2, hb + 0.04),
                    (x + w / 2 - 0.35, hc - 0.06),
                    (x - w / 2 + 0.35, hc - 0.06),
                ],
            ),
            glass,
            CAR,
        )
        dark = self.fog(flat(rgb255(30, 30, 30)), z)
        for sx in (-1, 1):
            c.draw(self.front_quad(z, x + sx * (w / 2 - 0.05), x + sx * (w / 2 - 0.3), 0.0, 0.35), dark, CAR)
        lamp = rgb255(240, 240, 220) if toward else rgb255(200, 20, 20)
        for sx in (-1, 1):
            c.draw(
                self.front_quad(z, x + sx * (w / 2 - 0.05), x + sx * (w / 2 - 0.35), hb - 0.25, hb - 0.08),
                self.fog(flat(lamp), z),
                CAR,
            )
        c.draw(self.front_quad(z, x - w / 2, x + w / 2, 0.28, 0.45), dark, CAR)
        c.draw(self.front_quad(z, x - 0.26, x + 0.26, 0.45, 0.57), self.fog(flat(rgb255(235, 235, 235)), z), CAR)

    def draw_truck(self, x: float, z: float, length: float, toward: bool) -> None:
        """A box truck: cargo box (no windows) and a cab with a big windscreen."""
        rng, c = self.rng, self.canvas
        w, hb, hcab = 2.5, float(rng.uniform(3.2, 3.8)), float(rng.uniform(2.6, 3.0))
        cab = self.fog(textured(self.pick(CAR_COLOURS[:8] + BUS_COLOURS[:3]), rng, 0.05, "fine"), z)
        box_rgb = self.pick((rgb255(235, 235, 235), rgb255(200, 200, 200), rgb255(60, 90, 140), rgb255(120, 130, 90)))
        box = self.fog(textured(box_rgb, rng, 0.08, "medium", 2.0), z)
        dark = self.fog(flat(rgb255(28, 28, 28)), z)
        self.shadow_under(x, z, w, length)
        cab_len = 2.2
        side = self.visible_side(x, w)
        front, back = (z, z + length) if toward else (z + length, z)
        sgn = 1 if front > back else -1
        cab_start = front - sgn * cab_len
        if side is not None:
            lum = self.face_light(1 if side > x else -1)
            c.draw(
                self.side_poly(
                    side, [(back, 0.9), (back, hb), (cab_start - sgn * 0.2, hb), (cab_start - sgn * 0.2, 0.9)]
                ),
                box,
                TRUCK,
                light=vertical_light(lum * 1.05, lum * 0.9),
            )
            logo = lit(box, stripes(1.0, 0.35, "v", uv=self.cam.side_zy(side)), 1.0, 0.75)
            c.draw(
                self.side_poly(
                    side,
                    [
                        (back + sgn * 1, 1.8),
                        (back + sgn * 1, 2.4),
                        (cab_start - sgn * 1, 2.4),
                        (cab_start - sgn * 1, 1.8),
                    ],
                ),
                logo,
                TRUCK,
            )
            c.draw(
                self.side_poly(
                    side,
                    [(cab_start, 0.6), (cab_start, hcab), (front - sgn * 0.4, hcab), (front, hcab - 0.8), (front, 0.6)],
                ),
                cab,
                TRUCK,
                light=vertical_light(lum * 1.1, lum * 0.85),
            )
            c.draw(
                self.side_poly(
                    side,
                    [
                        (cab_start + sgn * 0.6, 1.7),
                        (cab_start + sgn * 0.6, hcab - 0.2),
                        (front - sgn * 0.45, hcab - 0.2),
                        (front - sgn * 0.3, 1.7),
                    ],
                ),
                self.glass_paint(z),
                TRUCK,
            )
            c.draw(self.side_poly(side, [(back, 0.5), (front, 0.5), (front, 0.9), (back, 0.9)]), dark, TRUCK)
            for zc in (back + sgn * 1.2, back + sgn * 2.4, front - sgn * 1.2):
                self.draw_wheel_on_side(side, zc, 0.5, z, TRUCK)
        f = self.face_light(0)
        if toward:
            c.draw(
                self.front_quad(z + cab_len, x - w / 2, x + w / 2, hcab - 0.2, hb),
                box,
                TRUCK,
                light=vertical_light(f, f * 0.9),
            )
            c.draw(
                self.front_quad(z, x - w / 2, x + w / 2, 0.4, hcab), cab, TRUCK, light=vertical_light(f * 1.1, f * 0.8)
            )
            c.draw(self.front_quad(z, x - w / 2 + 0.15, x + w / 2 - 0.15, 1.6, hcab - 0.15), self.glass_paint(z), TRUCK)
            c.draw(self.front_quad(z, x - 0.8, x + 0.8, 0.6, 1.3), lit(dark, stripes(0.1, 0.5, "v"), 1.0, 2.0), TRUCK)
        else:
            door = lit(box, stripes(0.3, 0.1, "v", uv=self.cam.front_xy(z)), 1.0, 0.8)
            c.draw(self.front_quad(z, x - w / 2, x + w / 2, 0.9, hb), door, TRUCK, light=vertical_light(f, f * 0.85))
            c.draw(self.front_quad(z, x - 0.02, x + 0.02, 0.9, hb), dark, TRUCK)
            for sx in (-1, 1):
                c.draw(
                    self.front_quad(z, x + sx * 1.1, x + sx * 0.85, 0.5, 0.7),
                    self.fog(flat(rgb255(200, 20, 20)), z),
                    TRUCK,
                )
        c.draw(self.front_quad(z, x - w / 2, x + w / 2, 0.35, 0.55), dark, TRUCK)
        for sx in (-1, 1):
            c.draw(self.front_quad(z, x + sx * (w / 2 - 0.05), x + sx * (w / 2 - 0.45), 0.0, 0.45), dark, TRUCK)

    def draw_bus(self, x: float, z: float, length: float, toward: bool) -> None:
        """A city bus: one tall body with a window band, doors, wheels and a destination display."""
        rng, c = self.rng, self.canvas
        w, h = 2.55, float(rng.uniform(3.0, 3.3))
        body = self.fog(textured(self.pick(BUS_COLOURS, 0.1), rng, 0.05, "fine"), z)
        glass = self.glass_paint(z)
        dark = self.fog(flat(rgb255(28, 28, 28)), z)
        self.shadow_under(x, z, w, length)
        side = self.visible_side(x, w)
        front, back = (z, z + length) if toward else (z + length, z)
        sgn = 1 if front > back else -1
        if side is not None:
            lum = self.face_light(1 if side > x else -1)
            uv = self.cam.side_zy(side)
            c.draw(self.side_quad(side, z, z + length, 0.3, h), body, BUS, light=vertical_light(lum * 1.1, lum * 0.85))
            band = mixed(glass, body, stripes(1.6, 0.08, "u", uv=uv))
            c.draw(self.side_quad(side, z + 0.3, z + length - 0.3, 1.25, h - 0.35), band, BUS)
            for zd in (front - sgn * 1.3, (front + back) / 2):
                c.draw(
                    self.side_poly(
                        side, [(zd, 0.35), (zd, h - 0.4), (zd + 1.1 * sgn, h - 0.4), (zd + 1.1 * sgn, 0.35)]
                    ),
                    glass,
                    BUS,
                )
            for zc in (front - sgn * 2.6, back + sgn * 3.0):
                self.draw_wheel_on_side(side, zc, 0.5, z, BUS)
        f = self.face_light(0)
        c.draw(self.front_quad(z, x - w / 2, x + w / 2, 0.3, h), body, BUS, light=vertical_light(f * 1.1, f * 0.85))
        if toward:
            c.draw(self.front_quad(z, x - w / 2 + 0.1, x + w / 2 - 0.1, 1.0, h - 0.5), glass, BUS)
            sign_paint = lit(flat(rgb255(30, 30, 30)), stripes(0.12, 0.5, "u", uv=self.cam.front_xy(z)), 1.0, 6.0)
            c.draw(self.front_quad(z, x - w / 2 + 0.2, x + w / 2 - 0.2, h - 0.42, h - 0.1), sign_paint, BUS)
            for sx in (-1, 1):
                c.draw(
                    self.front_quad(z, x + sx * 1.1, x + sx * 0.8, 0.55, 0.75),
                    self.fog(flat(rgb255(240, 240, 220)), z),
                    BUS,
                )
        else:
            c.draw(self.front_quad(z, x - w / 2 + 0.3, x + w / 2 - 0.3, h - 1.2, h - 0.4), glass, BUS)
            c.draw(self.front_quad(z, x - 0.8, x + 0.8, 0.6, 1.4), lit(dark, stripes(0.12, 0.5, "v"), 1.0, 2.2), BUS)
            for sx in (-1, 1):
                c.draw(
                    self.front_quad(z, x + sx * 1.15, x + sx * 0.95, 0.6, 1.6),
                    self.fog(flat(rgb255(200, 20, 20)), z),
                    BUS,
                )
        for sx in (-1, 1):
            c.draw(self.front_quad(z, x + sx * (w / 2 - 0.05), x + sx * (w / 2 - 0.4), 0.0, 0.35), dark, BUS)

    def draw_tram(self, x: float, z: float, length: float, toward: bool) -> None:
        """A tram on its rails: light livery with a colour stripe, long window band, joints, skirt to the rails,
        rounded cab and pantograph (train class)."""
        rng, c, cam = self.rng, self.canvas, self.cam
        w, h = 2.4, float(rng.uniform(3.3, 3.6))
        body_rgb = self.pick(TRAM_BODIES, 0.06)
        stripe_rgb = self.pick(TRAM_STRIPES, 0.1)
        body = self.fog(textured(body_rgb, rng, 0.04, "fine"), z)
        stripe = self.fog(flat(stripe_rgb), z)
        glass = self.glass_paint(z)
        dark = self.fog(flat(rgb255(35, 35, 38)), z)
        self.shadow_under(x, z, w, length)
        side = self.visible_side(x, w)
        if side is not None:
            lum = self.face_light(1 if side > x else -1)
            uv = self.cam.side_zy(side)
            c.draw(
                self.side_quad(side, z, z + length, 0.15, h), body, TRAIN, light=vertical_light(lum * 1.05, lum * 0.9)
            )
            c.draw(self.side_quad(side, z, z + length, 0.15, 0.75), stripe, TRAIN)
            band = mixed(glass, body, stripes(1.9, 0.12, "u", uv=uv))
            c.draw(self.side_quad(side, z + 1.5, z + length - 1.0, 1.3, h - 0.5), band, TRAIN)
            joints = Group(
                tuple(
                    self.side_quad(side, float(zj), float(zj) + 0.35, 0.15, h - 0.1)
                    for zj in np.arange(z + 9, z + length - 3, float(rng.uniform(8, 10)))
                )
            )
            if joints.shapes:
                c.draw(joints, dark, TRAIN)
            doors = Group(
                tuple(
                    self.side_quad(side, float(zd), float(zd) + 1.3, 0.3, h - 0.45)
                    for zd in np.arange(z + 3, z + length - 2, float(rng.uniform(5, 7)))
                )
            )
            c.draw(doors, self.fog(flat(mix(stripe_rgb, (0.2, 0.2, 0.2), 0.3)), z), TRAIN)
            c.draw(self.side_quad(side, z + 0.5, z + length - 0.5, h - 0.35, h - 0.2), stripe, TRAIN)
        f = self.face_light(0)
        chamfer = 0.45
        c.draw(
            self.front_poly(
                z,
                [
                    (x - w / 2, 0.15),
                    (x + w / 2, 0.15),
                    (x + w / 2, h - chamfer),
                    (x + w / 2 - chamfer, h),
                    (x - w / 2 + chamfer, h),
                    (x - w / 2, h - chamfer),
                ],
            ),
            body,
            TRAIN,
            light=vertical_light(f * 1.1, f * 0.9),
        )
        c.draw(self.front_quad(z, x - w / 2, x + w / 2, 0.15, 0.75), stripe, TRAIN)
        c.draw(
            self.front_poly(
                z,
                [
                    (x - w / 2 + 0.15, 1.3),
                    (x + w / 2 - 0.15, 1.3),
                    (x + w / 2 - 0.2, h - 0.55),
                    (x - w / 2 + 0.2, h - 0.55),
                ],
            ),
            glass,
            TRAIN,
        )
        display = lit(flat(rgb255(30, 30, 30)), stripes(0.1, 0.5, "u", uv=self.cam.front_xy(z)), 1.0, 7.0)
        c.draw(self.front_quad(z, x - 0.7, x + 0.7, h - 0.5, h - 0.2), display, TRAIN)
        for sx in (-1, 1):
            c.draw(
                Ellipse(
                    *cam.project(x + sx * 0.85, 1.0, z), max(0.12 * cam.scale(z), 1.0), max(0.12 * cam.scale(z), 1.0)
                ),
                self.fog(flat(rgb255(250, 250, 230)), z),
                TRAIN,
            )
        self.draw_pantograph(x, z + float(rng.uniform(3, 8)), h)

    def draw_pantograph(self, x: float, z: float, roof: float) -> None:
        """The current collector on the roof, reaching up to the wire (train class, ≥ 2 px)."""
        cam = self.cam
        wire_y = roof + 2.2
        paint = self.fog(flat(rgb255(60, 60, 65)), z)
        w = max(0.08 * cam.scale(z), 2.0)
        pts = [cam.project(x - 0.5, roof, z), cam.project(x + 0.1, roof + 1.1, z), cam.project(x - 0.3, wire_y, z)]
        self.canvas.draw(Line(tuple(pts), w), paint, TRAIN)
        self.canvas.draw(Line((cam.project(x - 0.8, wire_y, z), cam.project(x + 0.5, wire_y, z)), w), paint, TRAIN)
