"""Buildings and the edges of the sidewalk (a mixin of :class:`StreetScene`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uwl_utils.data.synthetic.city.constants import (
    BUILDING,
    CLOTHES,
    FACADE_COLOURS,
    FENCE,
    GREENS,
    VEGETATION,
    WALL,
    Z_FAR,
)
from uwl_utils.data.synthetic.city.geometry import Side
from uwl_utils.data.synthetic.render import (
    Group,
    Paint,
    Polygon,
    bricks,
    cells,
    diamonds,
    flat,
    foliage,
    lit,
    mixed,
    noise_pattern,
    rgb255,
    stripes,
    textured,
    tiles,
    vary,
    vertical_light,
)


class BuildingsMixin:
    """Facades with windows and shops, their shadows, and the walls, fences and hedges along the sidewalk."""

    def draw_building_shadows(self) -> None:
        """Shade on the ground along the side the sun does not reach."""
        if self.overcast:
            return
        side = self.layout.sides[0 if self.sun > 0 else 1]
        if side.facade is None:
            return
        depth = float(self.rng.uniform(2, 9))
        inner = side.facade - depth
        quad = self.ground_quad(side.sign * inner, side.sign * side.facade, 1.0, Z_FAR)
        self.canvas.darken(quad, float(self.rng.uniform(0.55, 0.75)), blur=0.5)

    def draw_side(self, side: Side) -> None:
        """Buildings (far to near), verge trees, then the border wall / fence / hedge."""
        if side.facade is not None:
            for z0, z1, h, setback in self.building_segments():
                self.draw_building(side, z0, z1, h, side.facade + setback)
        else:
            for x in np.arange(side.border + 4, side.border + 40, 7.0):
                z = float(self.rng.uniform(40, 120))
                self.draw_tree(side.sign * float(x + self.rng.uniform(-2, 2)), z, 1.3)
        if side.facade is not None and side.facade - side.border > 2.5:
            for z in np.arange(float(self.rng.uniform(8, 20)), 80, float(self.rng.uniform(7, 14))):
                x = side.sign * float(self.rng.uniform(side.border + 1.0, side.facade - 1.0))
                self.draw_tree(x, float(z), 1.0)
        if side.edge == "wall":
            self.draw_wall(side)
        elif side.edge == "fence":
            self.draw_fence(side)
        elif side.edge == "hedge":
            self.draw_hedge(side)

    def building_segments(self) -> list[tuple[float, float, float, float]]:
        """(z0, z1, height, setback) of the building row, far to near, with gaps and the cross street."""
        rng, crossing = self.rng, self.layout.crossing
        segs, z = [], float(rng.uniform(2, 10))
        while z < 160:
            length = float(rng.uniform(8, 35))
            if crossing and z < crossing[1] and z + length > crossing[0]:
                if z < crossing[0] - 2:
                    segs.append((z, crossing[0] - 1, float(rng.uniform(6, 16)), float(rng.uniform(0, 2))))
                z = crossing[1] + 1
                continue
            if rng.random() < 0.2:
                z += float(rng.uniform(4, 12))
                continue
            segs.append((z, z + length, float(rng.uniform(6, 18)), float(rng.uniform(0, 3))))
            z += length
        return segs[::-1]

    def facade_paint(self, uv: Callable, floors: float, ground_shop: bool) -> Paint:
        """Facade material with a window grid (and shop windows) in the facade's surface coordinates."""
        rng = self.rng
        base = self.pick(FACADE_COLOURS, 0.15)
        material = rng.choice(["plaster", "brick", "panel"], p=[0.55, 0.25, 0.2])
        wall = textured(base, rng, 0.1, "fine", 6.0, 0.04, uv)
        if material == "brick":
            wall = lit(
                textured(
                    self.pick((rgb255(150, 70, 50), rgb255(170, 90, 60), rgb255(120, 60, 45))),
                    rng,
                    0.15,
                    "grain",
                    10.0,
                    0.05,
                    uv,
                ),
                bricks(0.25, 0.08, 0.02, uv),
                1.0,
                0.75,
            )
        elif material == "panel":
            wall = lit(wall, tiles(float(rng.uniform(1.2, 3)), floors, 0.06, uv), 1.0, 0.6)
        wall = lit(wall, noise_pattern(rng, "coarse", 0.4, uv), 0.8, 1.1)  # weathering
        glass = lit(
            textured(vary(rgb255(60, 75, 95), rng, 0.05, 0.3, 0.35), rng, 0.35, "coarse", 3.0, 0.08, uv),
            noise_pattern(rng, "medium", 2.0, uv),
            0.7,
            1.5,
        )
        frame = flat(vary(rgb255(225, 225, 220), rng, 0.05, 0.5, 0.15))
        spacing = float(rng.uniform(2.2, 3.6))
        win_w, win_h = float(rng.uniform(0.35, 0.6)), float(rng.uniform(0.4, 0.6))
        frames = cells(spacing, floors, win_w + 0.08, win_h + 0.08, uv)
        panes = cells(spacing, floors, win_w, win_h, uv)

        def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
            u, v = uv(ys, xs)
            upper = (v > (3.6 if ground_shop else 1.0))[..., None]
            out = wall(ys, xs)
            out = np.where(upper & (frames(ys, xs) > 0)[..., None], frame(ys, xs), out)
            out = np.where(upper & (panes(ys, xs) > 0)[..., None], glass(ys, xs), out)
            if ground_shop:
                shop = ((v > 0.4) & (v < 2.8) & ((u / 5.0) % 1.0 < 0.75))[..., None]
                out = np.where(shop, glass(ys, xs) * 0.8, out)
            return out

        return paint

    def draw_building(self, side: Side, z0: float, z1: float, h: float, x: float) -> None:
        rng, c = self.rng, self.canvas
        s = side.sign
        floors = float(rng.uniform(2.8, 3.4))
        shop = bool(rng.random() < 0.5)
        xp = s * x
        face = self.side_fog(self.facade_paint(self.cam.side_zy(xp), floors, shop), xp)
        lum = self.face_light(-s)
        z0 = max(z0, 1.0)
        end = self.fog(self.facade_paint(self.cam.front_xy(z0), floors, shop), z0)
        c.draw(
            self.front_quad(z0, xp, s * (x + 15), 0, h),
            end,
            BUILDING,
            light=vertical_light(self.face_light(0), self.face_light(0) * 0.85),
        )
        c.draw(self.side_quad(xp, z0, z1, 0, h), face, BUILDING, light=vertical_light(lum * 1.05, lum * 0.85))
        roof = self.fog(flat(self.pick((rgb255(90, 60, 50), rgb255(70, 70, 75), rgb255(120, 70, 55)))), z0)
        if rng.random() < 0.5:
            rh = float(rng.uniform(1.5, 3.5))
            c.draw(
                Polygon(
                    (
                        self.cam.project(xp, h, z0),
                        self.cam.project(s * (x + rh), h + rh, z0),
                        self.cam.project(s * (x + rh), h + rh, z1),
                        self.cam.project(xp, h, z1),
                    )
                ),
                lit(roof, tiles(0.4, 0.3, 0.05), 1.0, 0.7),
                BUILDING,
            )
        else:
            cornice = flat(vary(rgb255(200, 200, 195), rng, 0.05, 0.3, 0.15))
            c.draw(self.side_quad(xp, z0, z1, h - 0.4, h), self.fog(cornice, z0), BUILDING)
        if shop and rng.random() < 0.6:
            awning = stripes(0.6, 0.5, "u", uv=self.cam.side_zy(xp))
            colours = (self.pick(CLOTHES), (0.95, 0.95, 0.92))
            za = float(rng.uniform(z0, max(z0 + 1, z1 - 6)))
            poly = Polygon(
                (
                    self.cam.project(xp, 3.2, za),
                    self.cam.project(s * (x - 1.2), 2.6, za),
                    self.cam.project(s * (x - 1.2), 2.6, za + 5),
                    self.cam.project(xp, 3.2, za + 5),
                )
            )
            c.draw(poly, mixed(flat(colours[0]), flat(colours[1]), awning), BUILDING)

    def draw_wall(self, side: Side) -> None:
        """A free-standing wall: stone blocks or concrete panels with a coping, distinct from facades."""
        rng, c = self.rng, self.canvas
        s, x = side.sign, side.border
        z0, z1 = side.edge_span
        h = float(rng.uniform(1.0, 2.6))
        uv = self.cam.side_zy(s * x)
        if rng.random() < 0.5:
            base = self.pick((rgb255(150, 145, 140), rgb255(170, 160, 140), rgb255(120, 120, 125)), 0.12)
            stone = textured(base, rng, 0.25, "fine", 8.0, 0.06, uv)
            paint = lit(stone, bricks(float(rng.uniform(0.5, 0.9)), float(rng.uniform(0.25, 0.4)), 0.04, uv), 1.0, 0.55)
        else:
            base = self.pick((rgb255(165, 165, 165), rgb255(145, 150, 160), rgb255(185, 180, 170)), 0.1)
            concrete = textured(base, rng, 0.12, "medium", 5.0, 0.03, uv)
            paint = lit(concrete, stripes(float(rng.uniform(2.0, 4.0)), 0.03, "u", uv=uv), 1.0, 0.5)
            stains = stripes(0.37, 0.4, "u", uv=uv)
            paint = lit(paint, lambda ys, xs: stains(ys, xs) * (uv(ys, xs)[1] / h), 1.0, 0.85)
        paint = self.side_fog(lit(paint, noise_pattern(rng, "coarse", 0.5, uv), 0.8, 1.1), s * x)
        lum = self.face_light(-s)
        coping = flat(vary(rgb255(200, 200, 195), rng, 0.03, 0.3, 0.1))
        top = Polygon(
            (
                self.cam.project(s * x, h, z0),
                self.cam.project(s * (x + 0.35), h, z0),
                self.cam.project(s * (x + 0.35), h, z1),
                self.cam.project(s * x, h, z1),
            )
        )
        c.draw(
            self.front_quad(z0, s * x, s * (x + 0.35), 0, h),
            self.fog(paint, z0),
            WALL,
            light=vertical_light(self.face_light(0), self.face_light(0)),
        )
        c.draw(top, self.fog(coping, z0), WALL)
        c.draw(self.side_quad(s * x, z0, z1, 0, h), paint, WALL, light=vertical_light(lum, lum * 0.8))
        c.draw(self.side_quad(s * x, z0, z1, h - 0.12, h + 0.04), self.fog(coping, z0), WALL)

    def draw_fence(self, side: Side) -> None:
        """A fence along the sidewalk: metal bars, chain-link mesh or wooden planks; the label covers gaps."""
        rng, c = self.rng, self.canvas
        s, x = side.sign, side.border
        z0, z1 = side.edge_span
        kind = rng.choice(["bars", "mesh", "planks"], p=[0.4, 0.25, 0.35])
        h = float(rng.uniform(1.0, 2.0))
        uv = self.cam.side_zy(s * x)
        lum = self.face_light(-s)
        if kind == "planks":
            wood = self.pick((rgb255(140, 100, 60), rgb255(110, 90, 70), rgb255(150, 140, 125)), 0.15)
            paint = textured(wood, rng, 0.2, "fine", 10.0, 0.04, uv)
            cover = stripes(float(rng.uniform(0.12, 0.2)), 0.8, "u", uv=uv)
        else:
            metal = self.pick((rgb255(40, 60, 45), rgb255(35, 35, 38), rgb255(120, 125, 130)), 0.15)
            paint = textured(metal, rng, 0.1, "fine", 4.0, 0.02, uv)
            cover = (
                stripes(float(rng.uniform(0.15, 0.25)), 0.45, "u", uv=uv)
                if kind == "bars"
                else lambda ys, xs: 0.3 + 0.7 * diamonds(0.15, 0.3, uv)(ys, xs)
            )
        paint = self.side_fog(paint, s * x)
        c.draw(self.side_quad(s * x, z0, z1, 0, h), paint, FENCE, light=vertical_light(lum, lum * 0.9), cover=cover)
        posts = [self.side_quad(s * x, float(z), float(z) + 0.12, 0, h + 0.05) for z in np.arange(z0, z1, 2.5)]
        rails = [self.side_quad(s * x, z0, z1, y, y + 0.07) for y in (h - 0.07, 0.12)]
        c.draw(Group(tuple(posts + rails)), paint, FENCE, light=vertical_light(lum * 0.8, lum * 0.7))

    def draw_hedge(self, side: Side) -> None:
        rng, c = self.rng, self.canvas
        s, x = side.sign, side.border
        z0, z1 = side.edge_span
        h = float(rng.uniform(0.9, 1.8))
        paint = foliage(self.pick(GREENS), rng, 1.5)
        top = Polygon(
            (
                self.cam.project(s * x, h, z0),
                self.cam.project(s * (x + 1), h, z0),
                self.cam.project(s * (x + 1), h, z1),
                self.cam.project(s * x, h, z1),
            )
        )
        c.draw(self.front_quad(z0, s * x, s * (x + 1), 0, h), paint, VEGETATION)
        c.draw(top, paint, VEGETATION, light=vertical_light(1.2, 1.1))
        c.draw(
            self.side_quad(s * x, z0, z1, 0, h),
            paint,
            VEGETATION,
            light=vertical_light(self.face_light(-s), self.face_light(-s) * 0.7),
        )
