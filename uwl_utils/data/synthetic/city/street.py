"""The street itself: sky, ground, markings and rails (a mixin of :class:`StreetScene`)."""

from __future__ import annotations

import numpy as np

from uwl_utils.data.synthetic.city.constants import (
    BUILDING,
    FACADE_COLOURS,
    GREENS,
    ROAD,
    SIDEWALK,
    SKY,
    TERRAIN,
    VEGETATION,
    Z_FAR,
)
from uwl_utils.data.synthetic.city.geometry import Side
from uwl_utils.data.synthetic.render import (
    Ellipse,
    Group,
    Line,
    Paint,
    Polygon,
    blend,
    cells,
    flat,
    foliage,
    lit,
    mix,
    mixed,
    noise_pattern,
    rect,
    rgb255,
    stripes,
    textured,
    threshold,
    tiles,
    vary,
    vertical_light,
)


class StreetMixin:
    """Sky, distant skyline and tree line, road, sidewalks, verges, lane markings, rails and overhead wires."""

    def draw_sky(self) -> None:
        rng, c = self.rng, self.canvas
        if self.overcast:
            top = vary(rgb255(170, 175, 185), rng, 0.03, 0.3, 0.12)
            bottom = vary(rgb255(215, 215, 215), rng, 0.03, 0.3, 0.05)
        else:
            top = vary(rgb255(70, 120, 200), rng, 0.04, 0.25, 0.15)
            bottom = vary(rgb255(185, 205, 230), rng, 0.03, 0.3, 0.05)
        h = self.cam.horizon
        ramp = flat(top)
        gradient = blend(ramp, bottom, lambda ys, xs: np.clip(ys / max(h, 1.0), 0, 1) ** 1.5)
        cloud_rgb = mix(bottom, (1.0, 1.0, 1.0), 0.6) if not self.overcast else mix(bottom, (0.5, 0.5, 0.55), 0.4)
        cover = float(rng.uniform(0.35, 0.75))
        clouds = threshold(noise_pattern(rng, "fractal", float(rng.uniform(0.4, 1.0))), cover, 0.12)
        paint = mixed(gradient, textured(cloud_rgb, rng, 0.1, "medium", 2.0), clouds)
        c.draw(rect(0, 0, c.width, h + 1), paint, SKY)

    def draw_skyline(self) -> None:
        """Distant buildings and tree lines at the end of the street."""
        rng, cam = self.rng, self.cam
        z = float(rng.uniform(90, 170))
        half = (cam.cx + 10) * z / cam.focal
        x = -half - (self.canvas.width - cam.cx) * z / cam.focal * 0.2
        x_end = (self.canvas.width - cam.cx + 10) * z / cam.focal
        while x < x_end:
            w = float(rng.uniform(8, 30))
            if rng.random() < 0.3:
                self.draw_tree_line(x, x + w, z + float(rng.uniform(-10, 10)))
            else:
                self.draw_far_building(x, x + w, z + float(rng.uniform(-15, 25)), float(rng.uniform(8, 40)))
            x += w * float(rng.uniform(0.7, 1.1))

    def draw_far_building(self, x0: float, x1: float, z: float, h: float) -> None:
        rng = self.rng
        wall = textured(self.pick(FACADE_COLOURS, 0.2), rng, 0.06, "fine", 0.5)
        glass = flat(vary(rgb255(70, 80, 95), rng, 0.03, 0.2, 0.3))
        paint = mixed(wall, glass, cells(float(rng.uniform(2.5, 4)), 3.0, 0.45, 0.5, self.cam.front_xy(z)))
        self.canvas.draw(
            self.front_quad(z, x0, x1, 0, h),
            self.fog(paint, z),
            BUILDING,
            light=vertical_light(self.face_light(0) * 1.05, self.face_light(0) * 0.9),
        )

    def draw_tree_line(self, x0: float, x1: float, z: float) -> None:
        rng, cam = self.rng, self.cam
        s = cam.scale(z)
        paint = self.fog(foliage(self.pick(GREENS, 0.2), rng, 1.5), z)
        blobs = []
        for x in np.arange(x0, x1, 3.0):
            h = float(rng.uniform(6, 14))
            cx, cy = cam.project(float(x + rng.uniform(-1, 1)), h * 0.6, z)
            blobs.append(Ellipse(cx, cy, s * 3.0, s * h * 0.45))
            blobs.append(Ellipse(cx, (cy + cam.project(0, 0, z)[1]) / 2, s * 3.2, s * h * 0.3))
        self.canvas.draw(Group(tuple(blobs)), paint, VEGETATION, light=vertical_light(1.1, 0.8))

    def draw_ground(self) -> None:
        """Terrain base, verges, sidewalks with curbs, road with markings, cross street, tram rails."""
        c, cam, lay = self.canvas, self.cam, self.layout
        c.draw(rect(0, cam.horizon, c.width, c.height), self.terrain_paint(), TERRAIN)
        for side in lay.sides:
            self.draw_verge(side)
            self.draw_sidewalk(side)
        left, right = lay.road
        asphalt = self.asphalt_paint()
        c.draw(self.ground_quad(left, right, 1.0, Z_FAR), asphalt, ROAD)
        if lay.crossing:
            z0, z1 = lay.crossing
            c.draw(self.ground_quad(-200, 200, z0, z1), asphalt, ROAD)
        self.draw_markings()
        if lay.tram_x is not None:
            self.draw_rails(lay.tram_x)
        self.draw_building_shadows()

    def terrain_paint(self) -> Paint:
        rng = self.rng
        grass = rng.random() < 0.75
        base = self.pick(
            (rgb255(120, 150, 70), rgb255(140, 160, 80), rgb255(110, 135, 60)) if grass
            else (rgb255(130, 115, 90), rgb255(150, 140, 120)), 0.15)  # fmt: skip
        uv = self.cam.ground_xz
        paint = textured(base, rng, 0.22, "grain" if grass else "fine", 3.0, 0.06, uv)
        paint = lit(paint, stripes(float(rng.uniform(1.5, 3)), 0.5, "u", uv=uv), 0.93, 1.05)
        return self.ground_fog(lit(paint, noise_pattern(rng, "coarse", 0.3, uv), 0.75, 1.15))

    def asphalt_paint(self) -> Paint:
        rng = self.rng
        uv = self.cam.ground_xz
        base = vary(rgb255(85, 85, 90), rng, 0.05, 0.4, 0.2)
        paint = textured(base, rng, 0.18, "grain", 6.0, 0.02, uv)
        patches = threshold(noise_pattern(rng, "medium", 0.4, uv), float(rng.uniform(0.6, 0.8)), 0.05)
        paint = lit(paint, patches, 1.0, float(rng.uniform(0.75, 0.9)))
        return self.ground_fog(lit(paint, noise_pattern(rng, "coarse", 0.2, uv), 0.85, 1.1))

    def sidewalk_paint(self) -> Paint:
        rng = self.rng
        uv = self.cam.ground_xz
        base = self.pick((rgb255(165, 160, 155), rgb255(180, 150, 140), rgb255(190, 180, 160),
                          rgb255(140, 140, 145)), 0.12)  # fmt: skip
        paint = textured(base, rng, 0.15, "fine", 4.0, 0.03, uv)
        size = float(rng.uniform(0.3, 0.6))
        paint = lit(paint, tiles(size, size * float(rng.choice([1.0, 2.0])), 0.04, uv), 1.0, 0.72)
        return self.ground_fog(lit(paint, noise_pattern(rng, "coarse", 0.3, uv), 0.85, 1.1))

    def draw_verge(self, side: Side) -> None:
        far = side.facade if side.facade is not None else 200.0
        if far - side.border > 0.2:
            paint = self.terrain_paint()
            s = side.sign
            self.canvas.draw(self.ground_quad(s * side.border, s * far, 1.0, Z_FAR), paint, TERRAIN)

    def draw_sidewalk(self, side: Side) -> None:
        s = side.sign
        self.canvas.draw(self.ground_quad(s * side.curb, s * side.border, 1.0, Z_FAR), self.sidewalk_paint(), SIDEWALK)
        curb = self.ground_fog(flat(vary(rgb255(175, 175, 170), self.rng, 0.02, 0.2, 0.1)))
        self.canvas.draw(self.ground_quad(s * side.curb, s * (side.curb + 0.2), 1.0, Z_FAR), curb, SIDEWALK)

    def draw_markings(self) -> None:
        rng, lay = self.rng, self.layout
        white = self.ground_fog(textured(vary(rgb255(225, 225, 215), rng, 0.05, 0.3, 0.08), rng, 0.1, "fine"))
        yellow = rng.random() < 0.15
        paint = self.ground_fog(flat(rgb255(220, 180, 40))) if yellow else white
        z_end = lay.crossing[0] if lay.crossing else Z_FAR
        dashes: list[Polygon] = []
        dash, gap = float(rng.uniform(2, 4)), float(rng.uniform(3, 8))
        for x in (lay.lanes[i] + (lay.lanes[i + 1] - lay.lanes[i]) / 2 for i in range(len(lay.lanes) - 1)):
            for z in np.arange(float(rng.uniform(1, dash + gap)), z_end, dash + gap):
                dashes.append(self.ground_quad(x - 0.07, x + 0.07, float(z), float(z) + dash))
        for x in lay.road:
            inner = x + (0.3 if x < 0 else -0.3)
            dashes.append(self.ground_quad(inner - 0.08, inner + 0.08, 1.0, z_end))
        if lay.crossing:
            z0, z1 = lay.crossing
            for z in (z0 - 3.5, z1 + 0.5):
                for x in np.arange(lay.road[0] + 0.3, lay.road[1] - 0.3, 1.0):
                    dashes.append(self.ground_quad(float(x), float(x) + 0.5, z, z + 3.0))
            dashes.append(self.ground_quad(lay.road[0], lay.road[1], z0 - 4.3, z0 - 3.9))
        self.canvas.draw(Group(tuple(dashes)), paint, ROAD)

    def draw_rails(self, x: float) -> None:
        steel = self.ground_fog(flat(rgb255(150, 150, 155)))
        groove = self.ground_fog(flat(rgb255(35, 35, 35)))
        rails = [self.ground_quad(x + dx - 0.05, x + dx + 0.05, 1.0, Z_FAR) for dx in (-0.72, 0.72)]
        grooves = [self.ground_quad(x + dx + 0.05, x + dx + 0.1, 1.0, Z_FAR) for dx in (-0.72, 0.72)]
        self.canvas.draw(Group(tuple(rails)), steel, ROAD)
        self.canvas.draw(Group(tuple(grooves)), groove, ROAD)

    def draw_catenary(self, x: float) -> None:
        """The overhead wire above a tram line (image only, as in Cityscapes) and its span poles."""
        cam = self.cam
        wire = flat(rgb255(30, 30, 30))
        y = float(self.rng.uniform(5.5, 6.2))
        self.canvas.draw(Line((cam.project(x, y, 2.0), cam.project(x, y, Z_FAR)), 0.5), wire)
        self.canvas.draw(Line((cam.project(x + 0.3, y + 0.9, 2.0), cam.project(x + 0.3, y + 0.9, Z_FAR)), 0.4), wire)
        side = self.layout.sides[0 if x < 0 else 1]
        for z in np.arange(float(self.rng.uniform(7, 14)), 70, float(self.rng.uniform(25, 40))):
            pole_x = side.sign * (side.curb + 0.6)
            self.add(float(z), lambda z=float(z), px=pole_x: self.draw_span_pole(px, z, x, y))
