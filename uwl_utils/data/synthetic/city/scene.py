"""The street scene: samples a layout and composes the object families, back to front."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uwl_utils.data.synthetic.city.buildings import BuildingsMixin
from uwl_utils.data.synthetic.city.constants import (
    BICYCLE,
    CLOTHES,
    HEIGHT,
    MOTORCYCLE,
    SCALE,
    SKIN,
    SKY,
    TROUSERS,
    WIDTH,
)
from uwl_utils.data.synthetic.city.furniture import FurnitureMixin
from uwl_utils.data.synthetic.city.geometry import Camera, Layout, Side
from uwl_utils.data.synthetic.city.people import PeopleMixin
from uwl_utils.data.synthetic.city.street import StreetMixin
from uwl_utils.data.synthetic.city.vehicles import VehiclesMixin
from uwl_utils.data.synthetic.render import (
    RGB,
    Canvas,
    Paint,
    Point,
    Polygon,
    blend,
    camera_effects,
    rgb255,
    vary,
)


class StreetScene(StreetMixin, BuildingsMixin, FurnitureMixin, PeopleMixin, VehiclesMixin):
    """One street scene: sample a layout, then draw it into an image and a label map.

    The drawing of each object family comes from its mixin; this class samples, orders and composes.
    """

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


def render_city(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """One street scene from a generator: image (H, W, 3) float32 in [0, 1] and label (H, W) uint8."""
    return StreetScene(rng, height, width).render()
