"""Procedural street scenes labelled with the 19 Cityscapes train-id classes (``synth_city``); entry point
:func:`render_city`.

A pinhole camera 1.2–1.7 m above a flat street looks along it; world coordinates are metres (X right, Y up,
Z forward). A scene is a sampled layout (lanes, sidewalks, verges, building rows with gaps, walls, fences,
hedges, an optional cross street and tram line) drawn back to front, then street furniture, people and
vehicles sorted by depth, then camera effects. Thin and rare classes are drawn so that a stride-4 network
can learn them: poles and their arms at least 3 output pixels wide, traffic lights and signs at least
4–5 pixels, riders always on a bicycle or motorcycle, trams (train) on rails under an overhead wire, walls
and fences with their own materials, and each class frequent enough to matter in the loss.

Modules: :mod:`.scene` samples the layout and composes the object families (:class:`StreetScene`), one
mixin each in :mod:`.street`, :mod:`.buildings`, :mod:`.furniture`, :mod:`.people` and :mod:`.vehicles`;
:mod:`.geometry` holds the camera and layout types, :mod:`.constants` the classes and colour sets.
"""

from uwl_utils.data.synthetic.city.scene import render_city

__all__ = ["render_city"]
