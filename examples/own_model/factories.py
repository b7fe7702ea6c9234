"""A factory of one's own: any function returning a torch module (here a tiny untrained network).

A plain module must map [0, 1] RGB images [N,3,H,W] to logits [N,C,H,W]; return ``uwl_utils.adapters.wrap(net,
mean=..., std=..., output=...)`` instead when it normalises differently, returns a dict or low-resolution logits.
"""

import torch
from torch import nn

from uwl_utils.adapters import wrap


def build(width: int = 4, classes: int = 19) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.Conv2d(width, classes, 1))


def build_wrapped(classes: str = "cityscapes") -> nn.Module:
    """The same network behind wrap(): ImageNet normalisation, named classes."""
    return wrap(build(), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), classes=classes, name="mine/wrapped")


# A Python module can be a registry itself: MODEL_SPEC=examples/own_model/factories.py registers these.
UWL_MODELS = {"mine/plain": build, "mine/voc": {"loader": "factories.py:build", "classes": 21}}
