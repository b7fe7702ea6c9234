"""Drawing primitives shared by the synthetic data sets: an image and its label map drawn together.

Coordinates are output pixels (x right, y down, floats); a :class:`Canvas` rasterises at ``scale``× that
size and :meth:`Canvas.finish` shrinks back (image by area, label by majority), so edges are anti-aliased
and thin parts keep their label. Colours are RGB floats in [0, 1].

- *Paint* ``(ys, xs) -> (h, w, 3)``: the colour at pixel centres (broadcastable grids, output pixels).
- *Pattern* ``(ys, xs) -> (h, w)`` in [0, 1]: a mixing weight between two paints (stripes, bricks, tiles).
- *Light* ``(v, u) -> factor``: shading over a shape's bounding box, ``u, v`` in [0, 1] (left-right,
  top-bottom), multiplied into its paint.
- *UV* ``(ys, xs) -> (u, v)``: maps pixels to surface coordinates so patterns follow perspective.
"""

from __future__ import annotations

import colorsys
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from uwl_utils.checks import IGNORE_INDEX

Paint = Callable[[np.ndarray, np.ndarray], np.ndarray]
Pattern = Callable[[np.ndarray, np.ndarray], np.ndarray]
Light = Callable[[np.ndarray, np.ndarray], np.ndarray]
UV = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
Point = tuple[float, float]
RGB = tuple[float, float, float]

NOISE_SIZE = 256
NOISE_FIELDS = ("grain", "fine", "medium", "coarse", "fractal")


# --------------------------------------------------------------------------------------------- noise


@cache
def noise_bank() -> dict[str, np.ndarray]:
    """Periodic noise fields (NOISE_SIZE², values ~[0, 1]) made once from a fixed seed.

    Samples take windows at random offsets, so a sample stays a pure function of its own generator.
    """
    rng = np.random.default_rng(20240531)
    k = np.fft.fftfreq(NOISE_SIZE) * NOISE_SIZE
    radius = np.hypot(k[:, None], k[None, :])
    spectra = {
        "grain": np.exp(-((radius / 90.0) ** 2)),
        "fine": np.exp(-((radius / 36.0) ** 2)),
        "medium": np.exp(-((radius / 12.0) ** 2)),
        "coarse": np.exp(-((radius / 4.0) ** 2)),
        "fractal": 1.0 / np.maximum(radius, 1.0) ** 1.4,
    }
    bank = {}
    for name in NOISE_FIELDS:
        white = np.fft.fft2(rng.standard_normal((NOISE_SIZE, NOISE_SIZE)))
        field = np.fft.ifft2(white * spectra[name]).real
        field = (field - field.mean()) / field.std()
        bank[name] = np.clip(0.5 + 0.18 * field, 0.0, 1.0).astype(np.float32)
    return bank


def sample_noise(field: str, ys: np.ndarray, xs: np.ndarray, freq: float, offset: Point) -> np.ndarray:
    """Read a bank field at (ys, xs)·freq + offset, wrapping around (nearest lookup)."""
    iy = (np.asarray(ys) * freq + offset[0]).astype(np.int64) % NOISE_SIZE
    ix = (np.asarray(xs) * freq + offset[1]).astype(np.int64) % NOISE_SIZE
    return noise_bank()[field][iy, ix]


def _grid_shape(ys: np.ndarray, xs: np.ndarray) -> tuple[int, int]:
    return np.broadcast_shapes(np.shape(ys), np.shape(xs))


# -------------------------------------------------------------------------------------------- colour


def vary(rgb: RGB, rng: np.random.Generator, hue: float = 0.03, sat: float = 0.15, val: float = 0.15) -> RGB:
    """Jitter a colour in HSV space (hue ± hue, saturation and value by relative ± amounts)."""
    h, s, v = colorsys.rgb_to_hsv(*np.clip(rgb, 0, 1))
    h = (h + rng.uniform(-hue, hue)) % 1.0
    s = float(np.clip(s * (1 + rng.uniform(-sat, sat)), 0, 1))
    v = float(np.clip(v * (1 + rng.uniform(-val, val)), 0, 1))
    return colorsys.hsv_to_rgb(h, s, v)


def rgb255(r: int, g: int, b: int) -> RGB:
    """An RGB colour from 0–255 integers."""
    return (r / 255.0, g / 255.0, b / 255.0)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend of two colours: t = 0 gives a, t = 1 gives b."""
    return tuple(float(x + (y - x) * t) for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------------------------- paints


def flat(rgb: RGB) -> Paint:
    """A uniform colour."""
    colour = np.asarray(rgb, np.float32)

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return np.broadcast_to(colour, (*_grid_shape(ys, xs), 3))

    return paint


def textured(
    rgb: RGB,
    rng: np.random.Generator,
    amp: float = 0.15,
    field: str = "fractal",
    freq: float = 1.0,
    tint: float = 0.04,
    uv: UV | None = None,
) -> Paint:
    """A colour modulated by bank noise (brightness ± amp) and a faint second-noise colour tint."""
    colour = np.asarray(rgb, np.float32)
    off = tuple(rng.uniform(0, NOISE_SIZE, 2))
    tint_off = tuple(rng.uniform(0, NOISE_SIZE, 2))
    tint_dir = rng.normal(size=3).astype(np.float32)
    tint_dir *= tint / (np.abs(tint_dir).max() + 1e-6)

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u, v = _coords(uv, ys, xs)
        n = sample_noise(field, v, u, freq, off) - 0.5
        t = sample_noise("coarse", v, u, freq * 0.5, tint_off) - 0.5
        return colour * (1.0 + 2.0 * amp * n)[..., None] + t[..., None] * tint_dir

    return paint


def foliage(rgb: RGB, rng: np.random.Generator, freq: float = 1.0) -> Paint:
    """Leafy texture: bright leaf clusters, dark gaps and a few sunlit specks."""
    colour = np.asarray(rgb, np.float32)
    offs = [tuple(rng.uniform(0, NOISE_SIZE, 2)) for _ in range(3)]
    hue_shift = np.asarray(vary(rgb, rng, hue=0.06, sat=0.3, val=0.1), np.float32) - colour

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        clumps = sample_noise("medium", ys, xs, 2.0 * freq, offs[0])
        leaves = sample_noise("grain", ys, xs, 2.5 * freq, offs[1])
        patches = sample_noise("coarse", ys, xs, freq, offs[2])
        light = 0.45 + 1.1 * clumps + 0.6 * (leaves - 0.5)
        light = np.where(leaves < 0.28, light * 0.45, light)
        out = colour * light[..., None] + (patches - 0.5)[..., None] * 2.0 * hue_shift
        return np.where((leaves > 0.8)[..., None], out * 1.35 + 0.05, out)

    return paint


def mixed(a: Paint, b: Paint, pattern: Pattern) -> Paint:
    """Blend two paints by a pattern weight (0 → a, 1 → b)."""

    def paint(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        w = pattern(ys, xs)[..., None]
        return a(ys, xs) * (1.0 - w) + b(ys, xs) * w

    return paint


def blend(paint: Paint, rgb: RGB, weight: float | Pattern) -> Paint:
    """Mix a paint towards a colour by a constant or per-pixel weight (haze, fading)."""
    colour = np.asarray(rgb, np.float32)

    def out(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        w = weight(ys, xs)[..., None] if callable(weight) else weight
        return paint(ys, xs) * (1.0 - w) + colour * w

    return out


def lit(paint: Paint, pattern: Pattern, low: float, high: float) -> Paint:
    """Multiply a paint by low + (high - low)·pattern (e.g. seams darker, highlights brighter)."""

    def out(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return paint(ys, xs) * (low + (high - low) * pattern(ys, xs))[..., None]

    return out


# ------------------------------------------------------------------------------------------- patterns


def _coords(uv: UV | None, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) surface coordinates of pixels, pixels themselves when uv is None."""
    if uv is None:
        return np.asarray(xs, np.float32), np.asarray(ys, np.float32)
    return uv(ys, xs)


def stripes(period: float, duty: float = 0.5, axis: str = "u", phase: float = 0.0, uv: UV | None = None) -> Pattern:
    """1 on a fraction `duty` of each period along u (vertical stripes) or v (horizontal ones)."""

    def pattern(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u, v = _coords(uv, ys, xs)
        t = ((u if axis == "u" else v) / period + phase) % 1.0
        return np.broadcast_to((t < duty).astype(np.float32), _grid_shape(ys, xs))

    return pattern


def bricks(width: float, height: float, mortar: float, uv: UV | None = None) -> Pattern:
    """1 on mortar joints of a running-bond brick wall (bricks width × height in uv units)."""

    def pattern(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u, v = _coords(uv, ys, xs)
        row = np.floor(v / height)
        fv = (v / height) % 1.0
        fu = (u / width + 0.5 * (row % 2)) % 1.0
        joint = (fv < mortar / height) | (fu < mortar / width)
        return np.broadcast_to(joint.astype(np.float32), _grid_shape(ys, xs))

    return pattern


def tiles(width: float, height: float, joint: float, uv: UV | None = None) -> Pattern:
    """1 on the joints of a rectangular tile grid."""

    def pattern(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u, v = _coords(uv, ys, xs)
        grid = ((u / width) % 1.0 < joint / width) | ((v / height) % 1.0 < joint / height)
        return np.broadcast_to(grid.astype(np.float32), _grid_shape(ys, xs))

    return pattern


def cells(period_u: float, period_v: float, fill_u: float, fill_v: float, uv: UV | None = None) -> Pattern:
    """1 inside a grid of rectangles (windows): fractions fill_u × fill_v of each period cell."""

    def pattern(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u, v = _coords(uv, ys, xs)
        inside = ((u / period_u) % 1.0 < fill_u) & ((v / period_v) % 1.0 < fill_v)
        return np.broadcast_to(inside.astype(np.float32), _grid_shape(ys, xs))

    return pattern


def diamonds(period: float, wire: float, uv: UV | None = None) -> Pattern:
    """1 on the wires of a diagonal chain-link mesh."""

    def pattern(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u, v = _coords(uv, ys, xs)
        a = ((u + v) / period) % 1.0
        b = ((u - v) / period) % 1.0
        return np.broadcast_to(((a < wire) | (b < wire)).astype(np.float32), _grid_shape(ys, xs))

    return pattern


def noise_pattern(rng: np.random.Generator, field: str = "medium", freq: float = 1.0, uv: UV | None = None) -> Pattern:
    """A bank noise field as a pattern (smooth blotches in [0, 1])."""
    off = tuple(rng.uniform(0, NOISE_SIZE, 2))

    def pattern(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        u, v = _coords(uv, ys, xs)
        return np.broadcast_to(sample_noise(field, v, u, freq, off), _grid_shape(ys, xs))

    return pattern


def threshold(pattern: Pattern, level: float, softness: float = 0.05) -> Pattern:
    """A soft step of a pattern at `level` (patches out of smooth noise)."""

    def out(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return np.clip((pattern(ys, xs) - level) / softness + 0.5, 0.0, 1.0)

    return out


# --------------------------------------------------------------------------------------------- lights


def vertical_light(top: float = 1.1, bottom: float = 0.8) -> Light:
    """Linear ramp from top to bottom of the shape."""
    return lambda v, u: top + (bottom - top) * v


def horizontal_light(left: float = 1.1, right: float = 0.8) -> Light:
    """Linear ramp from left to right of the shape."""
    return lambda v, u: left + (right - left) * u


def cylinder_light(highlight: float = 0.35, ambient: float = 0.55, strength: float = 0.6) -> Light:
    """A vertical cylinder lit from the side: bright band at u = highlight, darker edges."""
    return lambda v, u: ambient + strength * np.maximum(np.cos(np.pi * (u - highlight)), 0.0) ** 2


def dome_light(cx: float = 0.35, cy: float = 0.3, ambient: float = 0.6, strength: float = 0.55) -> Light:
    """A rounded body lit from (cx, cy): bright near that point, darker towards the far rim."""
    return lambda v, u: ambient + strength * np.exp(-((u - cx) ** 2 + (v - cy) ** 2) * 3.0)


# --------------------------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Polygon:
    """A filled polygon."""

    points: tuple[Point, ...]

    def bounds(self) -> tuple[float, float, float, float]:
        xs, ys = zip(*self.points, strict=True)
        return min(xs), min(ys), max(xs), max(ys)

    def rasterize(self, draw: ImageDraw.ImageDraw, to_px: Callable[[Point], Point]) -> None:
        draw.polygon([to_px(p) for p in self.points], fill=255)

    def mapped(self, fn: Callable[[Point], Point], scale: float) -> Polygon:
        return Polygon(tuple(fn(p) for p in self.points))


@dataclass(frozen=True)
class Ellipse:
    """An axis-aligned filled ellipse, or a ring of the given width."""

    cx: float
    cy: float
    rx: float
    ry: float
    width: float | None = None

    def bounds(self) -> tuple[float, float, float, float]:
        return self.cx - self.rx, self.cy - self.ry, self.cx + self.rx, self.cy + self.ry

    def rasterize(self, draw: ImageDraw.ImageDraw, to_px: Callable[[Point], Point]) -> None:
        x0, y0 = to_px((self.cx - self.rx, self.cy - self.ry))
        x1, y1 = to_px((self.cx + self.rx, self.cy + self.ry))
        if self.width is None:
            draw.ellipse((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)), fill=255)
        else:
            ring = max(1, round(to_px((self.width, 0))[0] - to_px((0, 0))[0]))
            draw.ellipse((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)), outline=255, width=ring)

    def mapped(self, fn: Callable[[Point], Point], scale: float) -> Ellipse:
        cx, cy = fn((self.cx, self.cy))
        width = None if self.width is None else self.width * scale
        return Ellipse(cx, cy, abs(self.rx * scale), abs(self.ry * scale), width)


@dataclass(frozen=True)
class Line:
    """A thick polyline with round joints."""

    points: tuple[Point, ...]
    width: float

    def bounds(self) -> tuple[float, float, float, float]:
        xs, ys = zip(*self.points, strict=True)
        r = self.width / 2 + 1
        return min(xs) - r, min(ys) - r, max(xs) + r, max(ys) + r

    def rasterize(self, draw: ImageDraw.ImageDraw, to_px: Callable[[Point], Point]) -> None:
        pts = [to_px(p) for p in self.points]
        w = max(1, round(to_px((self.width, 0))[0] - to_px((0, 0))[0]))
        draw.line(pts, fill=255, width=w, joint="curve")
        if w > 2:
            r = w / 2
            for x, y in (pts[0], pts[-1]):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)

    def mapped(self, fn: Callable[[Point], Point], scale: float) -> Line:
        return Line(tuple(fn(p) for p in self.points), self.width * abs(scale))


@dataclass(frozen=True)
class Group:
    """Several shapes filled as one (one paint, one label): window rows, dashes, rails."""

    shapes: tuple[Polygon | Ellipse | Line, ...]

    def bounds(self) -> tuple[float, float, float, float]:
        b = np.array([s.bounds() for s in self.shapes])
        return b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()

    def rasterize(self, draw: ImageDraw.ImageDraw, to_px: Callable[[Point], Point]) -> None:
        for s in self.shapes:
            s.rasterize(draw, to_px)

    def mapped(self, fn: Callable[[Point], Point], scale: float) -> Group:
        return Group(tuple(s.mapped(fn, scale) for s in self.shapes))


Shape = Polygon | Ellipse | Line | Group


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """An axis-aligned rectangle as a polygon."""
    return Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def ellipse_polygon(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 20) -> Polygon:
    """A rotated ellipse (angle in radians) as a polygon."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ca, sa = np.cos(angle), np.sin(angle)
    x, y = rx * np.cos(t), ry * np.sin(t)
    return Polygon(tuple(zip((cx + ca * x - sa * y).tolist(), (cy + sa * x + ca * y).tolist(), strict=True)))


def limb(a: Point, b: Point, width: float) -> Line:
    """A two-point thick line (legs, arms, tubes)."""
    return Line((a, b), width)


# ---------------------------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class Part:
    """One shape of a composite object with its paint, label (None: image only) and shading."""

    shape: Shape
    paint: Paint
    label: int | None
    light: Light | None = None
    opacity: float = 1.0
    cover: Pattern | None = None


def place(parts: Sequence[Part], x: float, y: float, scale: float, flip: bool = False) -> list[Part]:
    """Map parts from local coordinates (x right, y up, origin at the object's foot) into the image."""
    sx = -scale if flip else scale

    def to_image(p: Point) -> Point:
        return x + sx * p[0], y - scale * p[1]

    return [replace(part, shape=part.shape.mapped(to_image, scale)) for part in parts]


# --------------------------------------------------------------------------------------------- canvas


class Canvas:
    """An RGB image and its label map, drawn together at `scale`× the output size."""

    def __init__(self, height: int, width: int, scale: int = 2, label: int = IGNORE_INDEX) -> None:
        self.height, self.width, self.scale = height, width, scale
        self.image = np.zeros((height * scale, width * scale, 3), np.float32)
        self.label = np.full((height * scale, width * scale), label, np.uint8)

    def _window(self, shape: Shape) -> tuple[int, int, int, int] | None:
        """Integer canvas window covering a shape, clipped; None when the shape is off-canvas."""
        x0, y0, x1, y1 = shape.bounds()
        s = self.scale
        c0, r0 = max(int(np.floor(x0 * s)) - 1, 0), max(int(np.floor(y0 * s)) - 1, 0)
        c1 = min(int(np.ceil(x1 * s)) + 2, self.width * s)
        r1 = min(int(np.ceil(y1 * s)) + 2, self.height * s)
        return (r0, r1, c0, c1) if r1 > r0 and c1 > c0 else None

    def mask(self, shape: Shape, window: tuple[int, int, int, int], blur: float = 0.0) -> np.ndarray:
        """Coverage of a shape over a canvas window, in [0, 1] (softened by `blur` output pixels)."""
        r0, r1, c0, c1 = window
        s = self.scale
        pad = int(np.ceil(2 * blur * s))
        img = Image.new("L", (c1 - c0 + 2 * pad, r1 - r0 + 2 * pad), 0)
        shape.rasterize(ImageDraw.Draw(img), lambda p: (p[0] * s - c0 + pad, p[1] * s - r0 + pad))
        if blur > 0:
            img = img.filter(ImageFilter.GaussianBlur(blur * s))
        m = np.asarray(img, np.float32) / 255.0
        return m[pad : pad + r1 - r0, pad : pad + c1 - c0]

    def draw(
        self,
        shape: Shape,
        paint: Paint,
        label: int | None = None,
        light: Light | None = None,
        opacity: float = 1.0,
        cover: Pattern | None = None,
    ) -> None:
        """Fill a shape with a paint (times its light); write `label` under it unless None.

        `opacity` and the per-pixel `cover` pattern make the paint see-through (fences, spoked wheels);
        the label still covers the whole shape.
        """
        window = self._window(shape)
        if window is None:
            return
        r0, r1, c0, c1 = window
        m = self.mask(shape, window)
        inside = m > 0.5
        if not inside.any():
            return
        s = self.scale
        ys = ((np.arange(r0, r1, dtype=np.float32) + 0.5) / s)[:, None]
        xs = ((np.arange(c0, c1, dtype=np.float32) + 0.5) / s)[None, :]
        colour = paint(ys, xs)
        if light is not None:
            bx0, by0, bx1, by1 = shape.bounds()
            v = np.clip((ys - by0) / max(by1 - by0, 1e-3), 0, 1)
            u = np.clip((xs - bx0) / max(bx1 - bx0, 1e-3), 0, 1)
            colour = colour * np.broadcast_to(light(v, u), m.shape)[..., None]
        region = self.image[r0:r1, c0:c1]
        alpha = inside * opacity if cover is None else inside * opacity * cover(ys, xs)
        alpha = alpha[..., None]
        region[:] = region * (1 - alpha) + colour * alpha
        if label is not None:
            self.label[r0:r1, c0:c1][inside] = label

    def draw_parts(self, parts: Sequence[Part]) -> None:
        """Draw composite-object parts in order."""
        for p in parts:
            self.draw(p.shape, p.paint, p.label, p.light, p.opacity, p.cover)

    def darken(self, shape: Shape, factor: float, blur: float = 0.0) -> None:
        """Multiply the image under a (soft) shape by `factor`: shadows; labels are unchanged."""
        window = self._window(shape)
        if window is None:
            return
        r0, r1, c0, c1 = window
        m = self.mask(shape, window, blur)[..., None]
        self.image[r0:r1, c0:c1] *= 1.0 - (1.0 - factor) * m

    def fill(self, paint: Paint, label: int | None = None) -> None:
        """Paint the whole canvas."""
        self.draw(rect(0, 0, self.width, self.height), paint, label)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Shrink to output size: image (H, W, 3) by area, label (H, W) by block majority."""
        return downsample_image(self.image, self.scale), downsample_label(self.label, self.scale)


# ---------------------------------------------------------------------------------- resample, effects


def downsample_image(image: np.ndarray, factor: int) -> np.ndarray:
    """Area (box) downsampling by an integer factor."""
    h, w = image.shape[0] // factor, image.shape[1] // factor
    return image[: h * factor, : w * factor].reshape(h, factor, w, factor, -1).mean(axis=(1, 3))


def downsample_label(label: np.ndarray, factor: int) -> np.ndarray:
    """Majority vote over factor×factor blocks (ties go to the first block pixel in raster order)."""
    h, w = label.shape[0] // factor, label.shape[1] // factor
    blocks = [label[i : h * factor : factor, j : w * factor : factor] for i in range(factor) for j in range(factor)]
    counts = [sum((b == other).astype(np.uint8) for other in blocks) for b in blocks]
    best = np.argmax(np.stack(counts), axis=0)
    return np.take_along_axis(np.stack(blocks), best[None], axis=0)[0]


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of an (H, W, C) float image with edge padding."""
    if sigma <= 0.05:
        return image
    r = max(1, int(np.ceil(2.5 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    h, w = image.shape[:2]
    padded = np.pad(image, ((r, r), (0, 0), (0, 0)), mode="edge")
    out = sum(k[i] * padded[i : i + h] for i in range(2 * r + 1))
    padded = np.pad(out, ((0, 0), (r, r), (0, 0)), mode="edge")
    return sum(k[i] * padded[:, i : i + w] for i in range(2 * r + 1))


def colour_grade(
    image: np.ndarray,
    gamma: float = 1.0,
    contrast: float = 1.0,
    brightness: float = 0.0,
    cast: RGB = (1.0, 1.0, 1.0),
    saturation: float = 1.0,
) -> np.ndarray:
    """Per-image photometry: saturation, colour cast (channel gains), contrast about the mean, gamma."""
    grey = image.mean(axis=2, keepdims=True)
    out = grey + (image - grey) * saturation
    out = out * np.asarray(cast, np.float32)
    mean = out.mean()
    out = (out - mean) * contrast + mean + brightness
    return np.clip(out, 0.0, 1.0) ** gamma


def vignette(image: np.ndarray, strength: float) -> np.ndarray:
    """Darken the corners by up to `strength`."""
    h, w = image.shape[:2]
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    return image * (1.0 - strength * ((x**2 + y**2) / 2.0))[..., None]


def sensor_noise(image: np.ndarray, rng: np.random.Generator, sigma: float, chroma: float = 0.3) -> np.ndarray:
    """Signal-dependent Gaussian noise: luminance noise plus a `chroma` share of per-channel noise."""
    h, w = image.shape[:2]
    lum = rng.standard_normal((h, w, 1), dtype=np.float32)
    col = rng.standard_normal((h, w, 3), dtype=np.float32)
    scale = sigma * (0.5 + np.sqrt(np.clip(image, 0, 1)))
    return image + scale * ((1 - chroma) * lum + chroma * col)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG (block and ringing artefacts of web photos)."""
    buf = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), np.float32) / 255.0


def camera_effects(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Random photometry, blur, vignetting and sensor noise of a camera (strength scales the ranges)."""
    s = strength
    cast = tuple(float(c) for c in 1.0 + rng.normal(0, 0.05 * s, 3))
    image = colour_grade(
        image,
        gamma=float(np.exp(rng.normal(0, 0.15 * s))),
        contrast=float(np.exp(rng.normal(0, 0.15 * s))),
        brightness=float(rng.normal(0, 0.04 * s)),
        cast=cast,
        saturation=float(np.exp(rng.normal(0, 0.2 * s))),
    )
    image = gaussian_blur(image, float(rng.uniform(0.2, 0.8) * s))
    image = vignette(image, float(rng.uniform(0, 0.35) * s))
    image = sensor_noise(image, rng, float(rng.uniform(0.005, 0.025) * s))
    return np.clip(image, 0.0, 1.0)


def ignore_boundaries(label: np.ndarray, ignore: int = IGNORE_INDEX) -> np.ndarray:
    """Set pixels whose 3×3 neighbourhood holds another label to `ignore` (a 2-px band, as in VOC)."""
    padded = np.pad(label, 1, mode="edge")
    h, w = label.shape
    edge = np.zeros(label.shape, bool)
    for dy in range(3):
        for dx in range(3):
            edge |= padded[dy : dy + h, dx : dx + w] != label
    out = label.copy()
    out[edge] = ignore
    return out
