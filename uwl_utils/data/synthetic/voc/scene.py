"""The VOC scene: a background of a kind, clutter, and 1–4 objects placed and scaled by class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from uwl_utils.data.synthetic.render import (
    Canvas,
    Ellipse,
    Group,
    Line,
    Paint,
    Part,
    Polygon,
    bricks,
    camera_effects,
    cells,
    dome_light,
    downsample_image,
    downsample_label,
    ellipse_polygon,
    flat,
    foliage,
    ignore_boundaries,
    limb,
    lit,
    mix,
    mixed,
    noise_pattern,
    place,
    rect,
    rgb255,
    stripes,
    tiles,
    vertical_light,
)
from uwl_utils.data.synthetic.voc.creatures import bird, cat, cow, dog, horse, person, sheep
from uwl_utils.data.synthetic.voc.furniture import bottle, chair, diningtable, pottedplant, sofa, tvmonitor
from uwl_utils.data.synthetic.voc.parts import (
    AEROPLANE,
    BICYCLE,
    BIRD,
    BOAT,
    BOTTLE,
    BUS,
    CAR,
    CAT,
    CHAIR,
    COW,
    DARK,
    DININGTABLE,
    DOG,
    FABRICS,
    GLASS,
    GREENS,
    HEIGHT,
    HORSE,
    METAL,
    MOTORBIKE,
    PAINTS,
    PERSON,
    POTTEDPLANT,
    SCALE,
    SHEEP,
    SKIES,
    SOFA,
    TRAIN,
    TVMONITOR,
    WALLS,
    WHITE,
    WIDTH,
    WOODS,
    Obj,
    bounds,
    disc,
    gradient,
    labelled_fill,
    mapped,
    pick,
    shade,
    tex,
)
from uwl_utils.data.synthetic.voc.vehicles import aeroplane, bicycle, boat, bus, car, motorbike, train

# Scenes each class may pick when it is the first object of an image.
SCENES: dict[int, tuple[str, ...]] = {
    AEROPLANE: ("field", "lake", "street"), BICYCLE: ("street", "field"), BIRD: ("field", "lake", "street"),
    BOAT: ("lake",), BOTTLE: ("room",), BUS: ("street",), CAR: ("street", "field"), CAT: ("room", "street", "field"),
    CHAIR: ("room", "street"), COW: ("field",), DININGTABLE: ("room",), DOG: ("room", "field", "street"),
    HORSE: ("field",), MOTORBIKE: ("street", "field"), PERSON: ("room", "street", "field", "lake"),
    POTTEDPLANT: ("room", "street"), SHEEP: ("field",), SOFA: ("room",), TRAIN: ("field",), TVMONITOR: ("room",),
}  # fmt: skip
# Target-area gains that even out the pixel share of classes (thin parts lose more to the ignore band).
AREA_GAIN = {
    AEROPLANE: 0.8,
    BICYCLE: 1.1,
    BIRD: 1.3,
    BOAT: 0.9,
    BOTTLE: 1.25,
    BUS: 0.65,
    CAR: 0.7,
    CAT: 1.3,
    CHAIR: 1.4,
    COW: 0.85,
    DOG: 1.2,
    HORSE: 1.6,
    PERSON: 1.5,
    POTTEDPLANT: 0.65,
    SHEEP: 0.65,
    SOFA: 0.65,
    TRAIN: 1.0,
    TVMONITOR: 0.7,
}
MAX_WIDTH = {BUS: 1.1, TRAIN: 1.3, AEROPLANE: 1.3}  # widest object (fraction of the image width), default 0.95


BUILDERS: dict[int, Callable[[np.random.Generator], Obj]] = {
    AEROPLANE: aeroplane, BICYCLE: bicycle, BIRD: bird, BOAT: boat, BOTTLE: bottle, BUS: bus, CAR: car, CAT: cat,
    CHAIR: chair, COW: cow, DININGTABLE: diningtable, DOG: dog, HORSE: horse, MOTORBIKE: motorbike, PERSON: person,
    POTTEDPLANT: pottedplant, SHEEP: sheep, SOFA: sofa, TRAIN: train, TVMONITOR: tvmonitor,
}  # fmt: skip


class VocScene:
    """One image: a background scene of a kind, unlabelled clutter and 1–4 placed objects."""

    def __init__(self, rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> None:
        self.rng, self.h, self.w = rng, height, width
        self.canvas = Canvas(height, width, SCALE, label=0)
        self.classes = [int(c) for c in rng.integers(1, 21, int(rng.choice([1, 2, 3, 4], p=[0.15, 0.3, 0.3, 0.25])))]
        options = SCENES[self.classes[0]]
        self.kind = options[int(rng.integers(len(options)))]
        lo, hi = {"room": (0.45, 0.7), "field": (0.35, 0.6), "street": (0.4, 0.6), "lake": (0.35, 0.55)}[self.kind]
        if AEROPLANE in self.classes or (self.kind == "lake" and BOAT in self.classes):
            lo, hi = lo + 0.1, hi + 0.1
        self.horizon = float(rng.uniform(lo, hi)) * height
        self.ground = (self.horizon + 0.15 * (height - self.horizon), height * 1.02)  # foot rows of ground objects

    def draw_sky(self) -> None:
        rng, c, hz = self.rng, self.canvas, self.horizon
        top = pick(rng, SKIES)
        c.draw(rect(0, 0, self.w, hz + 2), gradient(top, mix(top, WHITE, float(rng.uniform(0.4, 0.8))), 0, hz), 0)
        for _ in range(int(rng.integers(0, 4))):
            x, y, r = float(rng.uniform(0, self.w)), float(rng.uniform(0, hz * 0.7)), float(rng.uniform(6, 18))
            offsets = rng.normal(0, 0.6, (4, 2))
            puffs = tuple(Ellipse(x + dx * r, y + dy * r * 0.4, r * 0.6, r * 0.4) for dx, dy in offsets)
            c.draw(
                Group(puffs),
                tex(rng, WHITE, 0.1, "medium", 1.0),
                0,
                vertical_light(1.0, 0.85),
                float(rng.uniform(0.5, 0.9)),
            )

    def skyline(self, paint: Paint, amp: float, y0: float | None = None) -> None:
        """A wavy silhouette (hills, tree line) standing on the horizon."""
        hz = self.horizon if y0 is None else y0
        xs = np.linspace(-2, self.w + 2, 24)
        ys = hz - amp * (0.6 + 0.5 * np.cumsum(self.rng.normal(0, 0.3, 24)).clip(-1, 1))
        outline = tuple(zip(xs.tolist(), ys.tolist(), strict=True)) + ((self.w + 2, hz + 1), (-2, hz + 1))
        self.canvas.draw(Polygon(outline), paint, 0)

    def draw_room(self) -> None:
        rng, c, hz, w, h = self.rng, self.canvas, self.horizon, self.w, self.h
        wall_rgb = pick(rng, WALLS)
        wall = tex(rng, wall_rgb, 0.05, "medium", 1.0)
        style = int(rng.integers(4))
        if style == 1:
            wall = mixed(wall, shade(wall, 0.85), stripes(float(rng.uniform(4, 9)), 0.5))
        elif style == 2:
            brick = pick(rng, (rgb255(170, 90, 70), rgb255(190, 170, 140)))
            wall = lit(tex(rng, brick, 0.15), bricks(6, 3, 0.6), 1.0, 0.7)
        elif style == 3:
            wall = lit(wall, tiles(5, 5, 0.5), 1.05, 0.75)
        c.draw(rect(0, 0, w, hz), wall, 0, vertical_light(1.05, 0.9))
        floor_rgb = pick(rng, WOODS + (rgb255(150, 150, 150), rgb255(110, 40, 40), rgb255(70, 90, 120)))
        floor = tex(rng, floor_rgb, 0.15, "grain", 1.0)
        if rng.random() < 0.6:
            floor = lit(floor, stripes(float(rng.uniform(3, 6)), 0.15, "v"), 1.0, 0.7)
        c.draw(rect(0, hz, w, h), floor, 0, vertical_light(0.8, 1.1))
        c.draw(rect(0, hz - 2, w, hz), flat(mix(wall_rgb, WHITE, 0.5)), 0)
        for _ in range(int(rng.integers(1, 4))):
            kind, x = int(rng.integers(5)), float(rng.uniform(-0.1, 0.9)) * w
            sw, sh = float(rng.uniform(0.15, 0.35)) * w, float(rng.uniform(0.2, 0.4)) * hz
            y = float(rng.uniform(0.05, 0.9)) * (hz - sh)
            if kind == 0:  # window
                c.draw(rect(x, y, x + sw, y + sh), flat(pick(rng, (WHITE, WOODS[1]))), 0)
                c.draw(rect(x + 2, y + 2, x + sw - 2, y + sh - 2), gradient(pick(rng, SKIES), WHITE, y, y + sh), 0)
                mx, my = x + sw / 2, y + sh / 2
                bars = (rect(mx - 1, y, mx + 1, y + sh), rect(x, my - 1, x + sw, my + 1))
                c.draw(Group(bars), flat(WHITE), 0)
            elif kind == 1:  # picture
                c.draw(rect(x, y, x + sw * 0.7, y + sh * 0.7), flat(pick(rng, WOODS + (DARK,))), 0)
                c.draw(
                    rect(x + 2, y + 2, x + sw * 0.7 - 2, y + sh * 0.7 - 2),
                    mixed(
                        tex(rng, pick(rng, PAINTS), 0.3, "coarse"),
                        tex(rng, pick(rng, GREENS), 0.3, "coarse"),
                        noise_pattern(rng, "coarse", 3.0),
                    ),
                    0,
                )
            elif kind == 2:  # book shelf
                top = float(rng.uniform(0.1, 0.5)) * hz
                bw = float(rng.uniform(0.15, 0.35)) * w
                c.draw(rect(x, top, x + bw, hz + 3), tex(rng, pick(rng, WOODS)), 0, vertical_light(1.0, 0.8))
                books = mixed(flat(pick(rng, PAINTS)), flat(pick(rng, PAINTS)), stripes(float(rng.uniform(2, 4)), 0.5))
                for sy in np.arange(top + 3, hz - 4, 9):
                    c.draw(rect(x + 2, sy, x + bw - 2, sy + 6), books, 0)
            elif kind == 3:  # lamp
                c.draw(Line(((x, hz + 4), (x, y + sh * 0.4)), 1.5), flat(DARK), 0)
                c.draw(
                    Polygon(((x - 6, y + sh * 0.4), (x + 6, y + sh * 0.4), (x + 4, y), (x - 4, y))),
                    tex(rng, rgb255(240, 225, 180)),
                    0,
                )
            else:  # rug or box on the floor
                fy = float(rng.uniform(hz + 3, h))
                if rng.random() < 0.5:
                    c.draw(
                        Ellipse(x + sw / 2, fy, sw, float(rng.uniform(3, 8))),
                        tex(rng, pick(rng, FABRICS + PAINTS), 0.2, "grain"),
                        0,
                    )
                else:
                    c.draw(
                        rect(x, fy - sh * 0.6, x + sw * 0.6, fy),
                        tex(rng, rgb255(190, 150, 100), 0.1),
                        0,
                        vertical_light(1.1, 0.8),
                    )

    def draw_outdoor(self) -> None:
        rng, c, hz, w, h = self.rng, self.canvas, self.horizon, self.w, self.h
        self.draw_sky()
        if self.kind == "street":
            x = -float(rng.uniform(0, 10))
            while x < w:
                bw, top = float(rng.uniform(0.2, 0.5)) * w, float(rng.uniform(0.05, 0.8)) * hz
                facade = mixed(
                    tex(rng, pick(rng, WALLS + WOODS[2:3]), 0.1),
                    flat(GLASS),
                    cells(float(rng.uniform(5, 9)), float(rng.uniform(6, 10)), 0.5, 0.55),
                )
                c.draw(rect(x, top, x + bw, hz + 1), facade, 0, vertical_light(1.0, 0.8))
                x += bw
            walk = hz + float(rng.uniform(0.08, 0.2)) * (h - hz)
            c.draw(rect(0, hz, w, walk), lit(tex(rng, rgb255(175, 170, 160)), tiles(6, 3, 0.5), 1.0, 0.8), 0)
            c.draw(rect(0, walk, w, h), tex(rng, rgb255(85, 85, 90), 0.2, "grain", 1.0), 0, vertical_light(0.9, 1.1))
            y = (walk + h) / 2
            c.draw(
                Group(tuple(rect(x, y, x + 10, y + 1.5) for x in np.arange(rng.uniform(-15, 0), w, 20))),
                flat(rgb255(230, 230, 220)),
                0,
            )
            return
        self.skyline(tex(rng, mix(pick(rng, GREENS), SKIES[3], 0.5), 0.1), float(rng.uniform(4, 20)))
        if rng.random() < 0.7:
            self.skyline(foliage(pick(rng, GREENS), rng, 1.5), float(rng.uniform(3, 8)))
        if self.kind == "lake":
            water = lit(
                tex(
                    rng,
                    pick(rng, (rgb255(50, 90, 130), rgb255(40, 100, 110), rgb255(70, 110, 150))),
                    0.15,
                    "medium",
                    1.0,
                ),
                stripes(float(rng.uniform(2, 4)), 0.3, "v"),
                1.0,
                1.25,
            )
            c.draw(rect(0, hz, w, h), water, 0, vertical_light(1.2, 0.85))
            if any(k != BOAT for k in self.classes):
                bank = float(rng.uniform(0.78, 0.88)) * h
                c.draw(rect(0, bank, w, h), tex(rng, pick(rng, GREENS), 0.25, "fractal", 1.0), 0)
                self.ground = (bank + 2, h * 1.02)
            return
        grass = mixed(
            tex(rng, pick(rng, GREENS), 0.25, "fractal", 1.5),
            tex(rng, rgb255(140, 140, 60), 0.2, "grain"),
            noise_pattern(rng, "coarse", 1.0),
        )
        c.draw(rect(0, hz, w, h), grass, 0, vertical_light(0.85, 1.1))
        if any(k in (CAR, BUS, MOTORBIKE, BICYCLE) for k in self.classes) and rng.random() < 0.7:
            y0 = hz + float(rng.uniform(0.25, 0.5)) * (h - hz)
            c.draw(
                rect(0, y0, w, y0 + float(rng.uniform(0.25, 0.45)) * (h - hz)),
                tex(rng, rgb255(95, 95, 95), 0.2, "grain", 1.0),
                0,
            )

    def draw_clutter(self, front: bool = False) -> None:
        """Unlabelled outdoor props: trees, bushes, rocks, posts and fences (background class)."""
        rng, c, hz = self.rng, self.canvas, self.horizon
        for _ in range(int(rng.integers(0, 2) if front else rng.integers(1, 4))):
            kind, x = int(rng.integers(4)), float(rng.uniform(0, self.w))
            y = float(rng.uniform(hz + 2, self.h + 5)) if front else float(rng.uniform(hz, hz + 0.4 * (self.h - hz)))
            s = (y - hz + 8) * float(rng.uniform(0.4, 0.9))
            if kind == 0:  # tree
                c.draw(limb((x, y), (x, y - s * 1.2), s * 0.12), tex(rng, WOODS[3], 0.2), 0)
                c.draw(
                    Group(
                        tuple(
                            disc(x + dx * s * 0.4, y - s * 1.3 + dy * s * 0.3, s * 0.4)
                            for dx, dy in rng.normal(0, 0.6, (4, 2))
                        )
                    ),
                    foliage(pick(rng, GREENS), rng, 1.5),
                    0,
                    dome_light(),
                )
            elif kind == 1:  # bush
                c.draw(Ellipse(x, y - s * 0.2, s * 0.5, s * 0.3), foliage(pick(rng, GREENS), rng, 2.0), 0)
            elif kind == 2:  # rock
                c.draw(
                    ellipse_polygon(x, y - s * 0.1, s * 0.3, s * 0.15, float(rng.uniform(-0.3, 0.3)), 7),
                    tex(rng, rgb255(130, 125, 115), 0.25, "fractal"),
                    0,
                    dome_light(),
                )
            else:  # post / pole or fence
                if rng.random() < 0.5:
                    c.draw(limb((x, y), (x, y - s * 2.0), max(s * 0.06, 1.5)), tex(rng, pick(rng, (METAL,) + WOODS)), 0)
                else:
                    wood = tex(rng, pick(rng, WOODS + (WHITE,)))
                    posts = tuple(
                        rect(px, y - s * 0.6, px + s * 0.06, y) for px in np.arange(x - s * 1.5, x + s * 1.5, s * 0.5)
                    )
                    rails = (
                        rect(x - s * 1.5, y - s * 0.5, x + s * 1.5, y - s * 0.44),
                        rect(x - s * 1.5, y - s * 0.3, x + s * 1.5, y - s * 0.24),
                    )
                    c.draw(Group(posts + rails), wood, 0)

    def place_object(self, label: int) -> tuple[float, Callable[[], None]]:
        """Build, size and position one object; returns (depth key, draw function)."""
        rng, w, h = self.rng, self.w, self.h
        obj = BUILDERS[label](rng)
        if obj.where == "water" and self.kind != "lake":
            obj.under.insert(
                0,
                Part(
                    Ellipse(0.0, 0.0, 0.8, 0.12),
                    lit(tex(rng, rgb255(50, 90, 130), 0.15, "medium"), stripes(3.0, 0.3, "v"), 1.0, 1.25),
                    0,
                ),
            )
        x0, y0, x1, y1 = bounds(obj.parts)
        bw, bh = x1 - x0, y1 - y0
        area = float(rng.uniform(0.1, 0.36)) * h * w * AREA_GAIN.get(label, 1.0)
        area *= 1.5 if len(self.classes) == 1 else 1.0
        scale = np.sqrt(area / (labelled_fill(obj.parts) * bw * bh))
        if obj.where == "sky":
            fy = float(rng.uniform(0.15, 0.45)) * self.horizon + 0.1 * h
        elif obj.where == "water" and self.kind == "lake":
            fy = float(rng.uniform(self.horizon + 0.25 * (h - self.horizon), h * 0.97))
        else:
            fy = float(rng.uniform(*self.ground))
            scale *= 0.75 + 0.35 * (fy - self.ground[0]) / max(self.ground[1] - self.ground[0], 1.0)
        scale = min(scale, MAX_WIDTH.get(label, 0.85) * w / bw, 1.05 * h / bh)
        if obj.where != "sky":
            scale = min(scale, max(fy, 0.5 * h) / (bh - 0.5 * min(0.0, bounds(obj.under)[1] if obj.under else 0.0)))
        scale = max(scale, 0.18 * w / max(bw, bh))
        half = min(0.3 * bw * scale, 0.45 * w)
        fx = float(rng.uniform(half, w - half))
        flip = bool(rng.random() < 0.5)
        cx = (x0 + x1) / 2
        foot = (y0 + y1) / 2 if obj.where == "sky" else min(y0, bounds(obj.under)[1] if obj.under else y0)
        px, py = fx - (-scale if flip else scale) * cx, fy + scale * foot
        parts, under = place(obj.parts, px, py, scale, flip), place(obj.under, px, py, scale, flip)

        def draw() -> None:
            c = self.canvas
            c.draw_parts(under)
            if obj.where == "water":
                mirror = place(mapped(obj.parts, lambda q: (q[0], -q[1])), px, py, scale, flip)
                c.draw_parts([replace(p, label=None, opacity=0.3) for p in mirror])
            elif obj.where == "ground":
                c.darken(Ellipse(fx, fy, bw * scale * 0.5, max(2.0, bw * scale * 0.06)), 0.6, 1.5)
            c.draw_parts(parts)

        return (-1.0 if obj.where == "sky" else fy), draw

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """Draw the scene; returns image (H, W, 3) float32 in [0, 1] and label (H, W) uint8 (255 = boundary)."""
        if self.kind == "room":
            self.draw_room()
        else:
            self.draw_outdoor()
            self.draw_clutter()
        placed = [self.place_object(k) for k in self.classes]
        for _, draw in sorted(placed, key=lambda d: d[0]):
            draw()
        if self.kind != "room" and self.rng.random() < 0.3:
            self.draw_clutter(front=True)
        # The band is marked at 2x (2 canvas px = 1 output px, centred on the edge), then shrunk with the label.
        label = downsample_label(ignore_boundaries(self.canvas.label), SCALE)
        image = camera_effects(downsample_image(self.canvas.image, SCALE), self.rng, float(self.rng.uniform(0.6, 1.0)))
        return image.astype(np.float32), label


def render_voc(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """image (H, W, 3) float32 in [0, 1] and label (H, W) uint8: 0 background, 1..20 VOC classes, 255 ignore band."""
    return VocScene(rng, height, width).render()
