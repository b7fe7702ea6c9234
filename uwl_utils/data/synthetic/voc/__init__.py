"""``synth_voc``: procedural Pascal-VOC-like images with the 21 VOC classes; entry point :func:`render_voc`."""

from uwl_utils.data.synthetic.voc.scene import render_voc

__all__ = ["render_voc"]
