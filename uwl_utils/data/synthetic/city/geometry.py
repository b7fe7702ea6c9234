"""The pinhole camera and the sampled street layout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from uwl_utils.data.synthetic.city.constants import Z_FAR
from uwl_utils.data.synthetic.render import Point


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
