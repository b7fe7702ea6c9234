"""Procedural street scenes labelled with the 19 Cityscapes train-id classes (``synth_city``).

A pinhole camera 1.2–1.7 m above a flat street looks along it; world coordinates are metres (X right, Y up,
Z forward). A scene is a sampled layout (lanes, sidewalks, verges, building rows with gaps, walls, fences,
hedges, an optional cross street and tram line) drawn back to front, then street furniture, people and
vehicles sorted by depth, then camera effects. Thin and rare classes are drawn so that a stride-4 network
can learn them: poles and their arms at least 3 output pixels wide, traffic lights and signs at least
4–5 pixels, riders always on a bicycle or motorcycle, trams (train) on rails under an overhead wire, walls
and fences with their own materials, and each class frequent enough to matter in the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from uwl_utils.data.classes import CITYSCAPES_CLASSES
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
    blend,
    bricks,
    camera_effects,
    cells,
    cylinder_light,
    diamonds,
    dome_light,
    flat,
    foliage,
    horizontal_light,
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

HEIGHT, WIDTH, SCALE = 128, 256, 2

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK,
 BUS, TRAIN, MOTORCYCLE, BICYCLE) = (CITYSCAPES_CLASSES.index(n) for n in (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"))  # fmt: skip
IGNORE = 255  # unlabelled street clutter (bins, benches, boxes), as Cityscapes' "static"

MIN_POLE_PX = 3.0  # narrowest pole / arm at output resolution
Z_FAR = 220.0

FACADE_COLOURS = tuple(rgb255(*c) for c in (
    (214, 200, 170), (190, 170, 140), (225, 215, 190), (200, 150, 120), (170, 110, 90), (150, 150, 150),
    (200, 190, 160), (180, 190, 200), (220, 180, 140), (160, 140, 120), (230, 225, 215), (140, 120, 110),
))  # fmt: skip
CAR_COLOURS = tuple(rgb255(*c) for c in (
    (185, 185, 190), (225, 225, 225), (30, 30, 35), (75, 75, 80), (150, 20, 25), (35, 60, 130),
    (20, 35, 70), (50, 80, 55), (200, 190, 160), (120, 125, 135), (210, 170, 30), (110, 30, 40),
))  # fmt: skip
BUS_COLOURS = tuple(rgb255(*c) for c in ((235, 190, 30), (40, 90, 170), (200, 35, 35), (30, 140, 80),
                                          (235, 120, 30), (120, 40, 120)))  # fmt: skip
TRAM_BODIES = tuple(rgb255(*c) for c in ((235, 235, 228), (240, 230, 200), (205, 210, 215), (245, 245, 245)))
TRAM_STRIPES = tuple(rgb255(*c) for c in ((200, 30, 40), (30, 70, 160), (240, 180, 0), (20, 120, 70)))
CLOTHES = tuple(rgb255(*c) for c in (
    (30, 30, 40), (50, 55, 80), (120, 120, 125), (190, 170, 130), (170, 40, 40), (40, 80, 160),
    (50, 100, 60), (230, 230, 230), (110, 70, 40), (220, 180, 40), (200, 110, 150), (20, 20, 20),
))  # fmt: skip
TROUSERS = tuple(rgb255(*c) for c in ((40, 60, 100), (25, 25, 30), (90, 90, 95), (160, 140, 100), (80, 55, 40)))
SKIN = tuple(rgb255(*c) for c in ((240, 200, 170), (220, 170, 130), (180, 130, 90), (120, 80, 55), (90, 60, 40)))
GREENS = tuple(rgb255(*c) for c in ((70, 110, 35), (55, 95, 40), (90, 120, 45), (80, 100, 30), (110, 120, 40)))


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at (0, height, 0) looking along +Z; image y grows downwards."""

    focal: float
    cx: float
    horizon: float
    height: float

    def scale(self, z: float) -> float:
        """Pixels per metre at depth z."""
        return self.focal / z

    def project(self, x: float, y: float, z: float) -> Point:
        """World point -> output pixel."""
        return self.cx + self.focal * x / z, self.horizon + self.focal * (self.height - y) / z

    def ground_xz(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground-plane (X, Z) seen at pixels (below the horizon)."""
        z = self.focal * self.height / np.maximum(ys - self.horizon, 0.25)
        return (xs - self.cx) * z / self.focal, z

    def side_zy(self, x_plane: float) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """(Z, Y) on the vertical plane X = x_plane (a facade along the street)."""

        def uv(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            dx = xs - self.cx
            dx = np.where(np.abs(dx) < 0.25, np.copysign(0.25, x_plane), dx)
            z = np.clip(self.focal * x_plane / dx, 0.5, Z_FAR)
            return z, self.height - (ys - self.horizon) * z / self.focal

        return uv

    def front_xy(self, z: float) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """(X, Y) on the vertical plane Z = z (a surface facing the camera)."""

        def uv(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (xs - self.cx) * z / self.focal, self.height - (ys - self.horizon) * z / self.focal

        return uv


@dataclass
class Side:
    """One side of the street (sign -1 left, +1 right); distances are |X| in metres."""

    sign: int
    curb: float
    border: float  # outer edge of the sidewalk
    facade: float | None  # building line, None for an open (park) side
    edge: str | None  # "wall", "fence", "hedge" along the sidewalk border, or None
    edge_span: tuple[float, float] = (0.0, 0.0)


@dataclass
class Layout:
    """The sampled street: road span, sides, optional tram lane and cross street."""

    road: tuple[float, float]
    lanes: list[float]
    sides: tuple[Side, Side]
    tram_x: float | None
    crossing: tuple[float, float] | None
    props: list[tuple[float, Callable[[], None]]] = field(default_factory=list)


class StreetScene:
    """One street scene: sample a layout, then draw it into an image and a label map."""

    def __init__(self, rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> None:
        self.rng = rng
        self.canvas = Canvas(height, width, SCALE, label=SKY)
        self.cam = self._sample_camera(height, width)
        self.sun = int(rng.choice([-1, 1]))  # the sun shines from this side: facades facing it are lit
        self.overcast = bool(rng.random() < 0.35)
        self.daylight = float(rng.uniform(0.8, 1.1))
        self.haze = vary(rgb255(200, 210, 220) if not self.overcast else rgb255(200, 200, 200), rng, 0.05, 0.5)
        self.visibility = float(rng.uniform(120, 400))
        self.layout = self._sample_layout()

    # ----------------------------------------------------------------------------------------- sampling

    def _sample_camera(self, height: int, width: int) -> Camera:
        rng = self.rng
        cam_h = float(rng.uniform(1.25, 1.7))
        horizon = float(rng.uniform(0.36, 0.46) * height)
        z_bottom = float(rng.uniform(3.6, 5.0))  # ground depth at the bottom row
        focal = (height - horizon) * z_bottom / cam_h
        return Camera(focal, float(rng.uniform(0.42, 0.58) * width), horizon, cam_h)

    def _sample_side(self, sign: int, curb: float) -> Side:
        rng = self.rng
        border = curb + float(rng.uniform(2.0, 4.5))
        open_side = rng.random() < 0.25
        verge = float(rng.choice([0.0, rng.uniform(1.5, 6.0)], p=[0.35, 0.65]))
        facade = None if open_side else border + verge + float(rng.uniform(0.0, 3.0))
        edge = rng.choice(["wall", "fence", "hedge", "none"], p=[0.34, 0.34, 0.14, 0.18])
        start = float(rng.uniform(4, 14))
        span = (start, start + float(rng.uniform(15, 60)))
        return Side(sign, curb, border, facade, None if edge == "none" else str(edge), span)

    def _sample_layout(self) -> Layout:
        rng = self.rng
        n_lanes = int(rng.integers(2, 5))
        lane_w = float(rng.uniform(3.0, 3.6))
        ego = int(rng.integers(0, n_lanes))
        left = -(ego + 0.5) * lane_w
        lanes = [left + (i + 0.5) * lane_w for i in range(n_lanes)]
        right = left + n_lanes * lane_w
        tram_x = None
        if rng.random() < 0.5:
            tram_x = float(rng.choice([lanes[0], lanes[-1]] if n_lanes > 2 else lanes))
        crossing = None
        if rng.random() < 0.4:
            z0 = float(rng.uniform(14, 35))
            crossing = (z0, z0 + float(rng.uniform(8, 14)))
        sides = (self._sample_side(-1, -left), self._sample_side(1, right))
        return Layout((left, right), lanes, sides, tram_x, crossing)

    # ------------------------------------------------------------------------------------------ helpers

    def fog(self, paint: Paint, z: float) -> Paint:
        """Aerial perspective at a fixed depth."""
        return blend(paint, self.haze, float(1 - np.exp(-z / self.visibility)))

    def ground_fog(self, paint: Paint) -> Paint:
        """Aerial perspective on the ground plane (depth per pixel)."""
        cam, vis = self.cam, self.visibility
        return blend(paint, self.haze, lambda ys, xs: 1 - np.exp(-cam.ground_xz(ys, xs)[1] / vis))

    def side_fog(self, paint: Paint, x_plane: float) -> Paint:
        """Aerial perspective on a facade plane X = x_plane."""
        uv, vis = self.cam.side_zy(x_plane), self.visibility
        return blend(paint, self.haze, lambda ys, xs: 1 - np.exp(-uv(ys, xs)[0] / vis))

    def ground_quad(self, x0: float, x1: float, z0: float, z1: float) -> Polygon:
        """A ground rectangle X in [x0, x1], Z in [z0, z1]."""
        p = self.cam.project
        return Polygon((p(x0, 0, z0), p(x1, 0, z0), p(x1, 0, z1), p(x0, 0, z1)))

    def side_quad(self, x: float, z0: float, z1: float, y0: float, y1: float) -> Polygon:
        """A vertical rectangle in the plane X = x."""
        p = self.cam.project
        return Polygon((p(x, y0, z0), p(x, y1, z0), p(x, y1, z1), p(x, y0, z1)))

    def front_quad(self, z: float, x0: float, x1: float, y0: float, y1: float) -> Polygon:
        """A vertical rectangle in the plane Z = z (facing the camera)."""
        p = self.cam.project
        return Polygon((p(x0, y0, z), p(x1, y0, z), p(x1, y1, z), p(x0, y1, z)))

    def side_poly(self, x: float, zy: list[Point]) -> Polygon:
        """A polygon given as (Z, Y) points in the plane X = x."""
        return Polygon(tuple(self.cam.project(x, y, z) for z, y in zy))

    def front_poly(self, z: float, xy: list[Point]) -> Polygon:
        """A polygon given as (X, Y) points in the plane Z = z."""
        return Polygon(tuple(self.cam.project(x, y, z) for x, y in xy))

    def face_light(self, normal_x: int) -> float:
        """Brightness of a vertical face whose outward normal points to -X (-1), +X (+1) or the camera (0)."""
        if self.overcast:
            return self.daylight * (0.9 if normal_x == 0 else 0.8)
        if normal_x == 0:
            return self.daylight * 0.85
        return self.daylight * (1.1 if normal_x == self.sun else 0.6)

    def pick(self, colours: tuple[RGB, ...], amount: float = 0.12) -> RGB:
        """A palette colour, slightly varied."""
        return vary(colours[int(self.rng.integers(len(colours)))], self.rng, 0.02, amount, amount)

    def add(self, z: float, draw: Callable[[], None]) -> None:
        """Queue a street object for depth-sorted drawing."""
        self.layout.props.append((z, draw))

    # -------------------------------------------------------------------------------------------- render

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """Draw the scene; returns image (H, W, 3) float32 in [0, 1] and label (H, W) uint8."""
        self.draw_sky()
        self.draw_skyline()
        self.draw_ground()
        for side in self.layout.sides:
            self.draw_side(side)
        if self.layout.tram_x is not None:
            self.draw_catenary(self.layout.tram_x)
        self.populate()
        for _, draw in sorted(self.layout.props, key=lambda p: -p[0]):
            draw()
        image, label = self.canvas.finish()
        return camera_effects(image, self.rng, float(self.rng.uniform(0.6, 1.1))), label

    # --------------------------------------------------------------------------------------- background

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

    # ------------------------------------------------------------------------------------------- ground

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

    # -------------------------------------------------------------------------------------- street sides

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

    # ------------------------------------------------------------------------------------ street objects

    def populate(self) -> None:
        """Queue poles, lights, signs, trees, clutter, people, riders and vehicles."""
        rng, lay = self.rng, self.layout
        for side in lay.sides:
            self.queue_sidewalk_objects(side)
        self.queue_traffic_lights()
        self.queue_vehicles()
        for _ in range(int(rng.integers(1, 4))):
            self.queue_rider()
        for _ in range(int(rng.integers(0, 3))):
            side = lay.sides[int(rng.integers(2))]
            z = float(rng.uniform(7, 25))
            x = side.sign * float(rng.uniform(side.curb + 0.5, side.border - 0.3))
            kind = MOTORCYCLE if rng.random() < 0.45 else BICYCLE
            self.add(z, lambda x=x, z=z, k=kind: self.draw_two_wheeler(x, z, k, None, bool(self.rng.random() < 0.5)))

    def sidewalk_spot(self, side: Side, z_range: tuple[float, float], inset: float = 0.3) -> tuple[float, float]:
        """A random (X, Z) on a sidewalk."""
        z = float(self.rng.uniform(*z_range))
        return side.sign * float(self.rng.uniform(side.curb + inset, side.border - inset)), z

    def queue_sidewalk_objects(self, side: Side) -> None:
        rng = self.rng
        for _ in range(int(rng.integers(1, 4))):
            x, z = self.sidewalk_spot(side, (6, 40))
            self.add(z, lambda x=x, z=z: self.draw_person(x, z))
        for z in np.arange(float(rng.uniform(5, 12)), 45, float(rng.uniform(9, 16))):
            x = side.sign * (side.curb + float(rng.uniform(0.3, 0.7)))
            kind = rng.choice(["lamp", "sign", "sign2", "tree", "none"], p=[0.28, 0.3, 0.12, 0.2, 0.1])
            z = float(z)
            if kind == "lamp":
                self.add(z, lambda x=x, z=z: self.draw_street_lamp(x, z))
            elif kind in ("sign", "sign2"):
                self.add(z, lambda x=x, z=z, n=1 + (kind == "sign2"): self.draw_sign_post(x, z, n))
            elif kind == "tree":
                tx = side.sign * (side.curb + float(rng.uniform(0.8, 1.5)))
                self.add(z, lambda x=tx, z=z: self.draw_tree(x, z, 1.0))
        for _ in range(int(rng.integers(0, 3))):
            x, z = self.sidewalk_spot(side, (6, 35))
            self.add(z, lambda x=x, z=z: self.draw_clutter(x, z))

    def queue_traffic_lights(self) -> None:
        rng, lay = self.rng, self.layout
        z_stop = lay.crossing[0] - 4.5 if lay.crossing else float(rng.uniform(15, 40))
        for side in lay.sides:
            if rng.random() < 0.75:
                x = side.sign * (side.curb + float(rng.uniform(0.3, 0.8)))
                z = z_stop + float(rng.uniform(-1, 1))
                self.add(z, lambda x=x, z=z, s=side.sign: self.draw_light_pole(x, z, s))
        if lay.crossing:
            for side in lay.sides:
                x = side.sign * (side.curb + 0.5)
                z = lay.crossing[1] + float(rng.uniform(1, 3))
                self.add(z, lambda x=x, z=z, s=side.sign: self.draw_light_pole(x, z, s))

    def queue_vehicles(self) -> None:
        rng, lay = self.rng, self.layout
        busy: dict[float, list[tuple[float, float]]] = {x: [] for x in lay.lanes}

        def claim(x: float, z: float, length: float) -> bool:
            if any(z < b + 2 and a < z + length + 2 for a, b in busy[x]):
                return False
            busy[x].append((z, z + length))
            return True

        if lay.tram_x is not None and rng.random() < 0.85:
            z = float(rng.uniform(7, 30))
            length = float(rng.uniform(25, 40))
            claim(lay.tram_x, z, length)
            toward = bool(rng.random() < 0.5)
            self.add(z, lambda z=z, n=length, t=toward: self.draw_tram(lay.tram_x, z, n, t))
        kinds = (
            ["car"] * int(rng.integers(2, 6)) + ["truck"] * int(rng.random() < 0.5) + ["bus"] * int(rng.random() < 0.5)
        )
        for kind in kinds:
            x = float(rng.choice(lay.lanes))
            z = float(rng.uniform(6, 60))
            length = {"car": rng.uniform(3.9, 4.8), "truck": rng.uniform(7, 10), "bus": rng.uniform(11, 14)}[kind]
            if not claim(x, z, float(length)):
                continue
            toward = bool(x < lay.lanes[0] + 0.1 and len(lay.lanes) > 2 and rng.random() < 0.8)
            x += float(rng.uniform(-0.3, 0.3))
            self.add(z, lambda x=x, z=z, k=kind, n=float(length), t=toward: self.draw_vehicle(x, z, k, n, t))
        for side in lay.sides:  # parked cars along the curb
            for z in np.arange(float(rng.uniform(6, 20)), 60, float(rng.uniform(6, 15))):
                if rng.random() < 0.45:
                    x = side.sign * (side.curb - 1.1)
                    if not any(abs(x - lane) < 1.6 for lane in lay.lanes):
                        z = float(z)
                        self.add(z, lambda x=x, z=z: self.draw_vehicle(x, z, "car", 4.3, False))

    def queue_rider(self) -> None:
        rng, lay = self.rng, self.layout
        kind = MOTORCYCLE if rng.random() < 0.4 else BICYCLE
        if lay.crossing and rng.random() < 0.4:
            z = float(rng.uniform(lay.crossing[0] + 1, lay.crossing[1] - 1))
            x = float(rng.uniform(lay.road[0], lay.road[1]))
            side_view = True
        else:
            edge = lay.road[int(rng.integers(2))]
            x = edge - np.sign(edge) * float(rng.uniform(0.8, 1.6))
            z = float(rng.uniform(6, 25))
            side_view = False
        colours = (self.pick(CLOTHES), self.pick(TROUSERS), self.pick(SKIN))
        flip = bool(rng.random() < 0.5)
        if side_view:
            self.add(z, lambda: self.draw_two_wheeler(float(x), z, kind, colours, flip))
        else:
            self.add(z, lambda: self.draw_rider_from_behind(float(x), z, kind, colours))

    # ------------------------------------------------------------------------------------------- poles

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

    # ------------------------------------------------------------------------------------------- nature

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

    # ------------------------------------------------------------------------------------------- people

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

    # ------------------------------------------------------------------------------------------ vehicles

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


def render_city(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """One street scene from a generator: image (H, W, 3) float32 in [0, 1] and label (H, W) uint8."""
    return StreetScene(rng, height, width).render()
