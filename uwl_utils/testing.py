"""A tiny deterministic segmentation network for tests and benchmark smoke runs.

It has the model wrapper's contract (images [N,3,H,W] in [0,1] -> logits [N,C,H,W] at the input size,
``num_classes``) and runs in milliseconds, so attack tests can sweep many settings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ToySegmenter"]


class ToySegmenter(nn.Module):
    """A two-convolution network with the model wrapper's contract, for smoke runs and tests."""

    def __init__(self, num_classes: int = 5, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, num_classes, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv1((x - 0.5) * 4))
        return F.interpolate(self.conv2(h) * 3, size=x.shape[-2:], mode="bilinear", align_corners=False)
