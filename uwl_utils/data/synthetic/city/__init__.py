"""``synth_city``: procedural street scenes with the 19 Cityscapes train-id classes; entry point :func:`render_city`."""

from uwl_utils.data.synthetic.city.scene import render_city

__all__ = ["render_city"]
