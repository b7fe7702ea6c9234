"""Procedural Pascal-VOC-like images labelled with the 21 VOC classes (``synth_voc``); entry point :func:`render_voc`.

A sample is a cluttered background scene plus 1–4 foreground objects. The first object's class is drawn
uniformly and picks a compatible scene (room, field, street or lake), so the usual context comes with it
(boats on water, cows on grass, aeroplanes in the sky, televisions on a cabinet indoors); the others are
drawn uniformly too and placed by where they live (ground, sky or water; a boat away from a lake brings
its own patch of water). Every scene carries unlabelled clutter (furniture, windows, trees, rocks, poles,
buildings), drawn as background 0, sometimes in front of the objects.

Objects are stylised side-view silhouettes built from parts in local coordinates (x right, y up, foot at
the origin) with class-specific shapes, colours and textures: quadrupeds differ in proportions, ears,
tails and fur (tabby cat, floppy-eared dog, patched horned cow, long-legged maned horse, woolly sheep),
vehicles in outline, window rows and wheels. Each object is rasterised once at a nominal size to measure
its labelled area, then scaled to a random target area (equal in expectation for every class, so pixel
shares balance), flipped at random and drawn back to front (later objects occlude earlier ones).

Drawing uses :mod:`uwl_utils.data.synthetic.render` at 2× supersampling; after downsampling the image gets camera
effects (photometry, blur, vignetting, noise) and the label a VOC-style 255 band along every boundary.

Modules: :mod:`.scene` (backgrounds, placement, :class:`VocScene`), the object families :mod:`.vehicles`,
:mod:`.furniture` and :mod:`.creatures`, and :mod:`.parts`, the classes, colour sets and part helpers they share.
"""

from uwl_utils.data.synthetic.voc.scene import render_voc

__all__ = ["render_voc"]
