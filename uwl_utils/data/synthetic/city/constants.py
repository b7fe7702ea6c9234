"""Classes, sizes and colour sets of the street scenes."""

from __future__ import annotations

from uwl_utils.data.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from uwl_utils.data.synthetic.render import rgb255

HEIGHT, WIDTH, SCALE = 128, 256, 2

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK,
 BUS, TRAIN, MOTORCYCLE, BICYCLE) = (CITYSCAPES_CLASSES.index(n) for n in (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"))  # fmt: skip
IGNORE = IGNORE_INDEX  # unlabelled street clutter (bins, benches, boxes), as Cityscapes' "static"

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
