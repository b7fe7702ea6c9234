"""Shared fixtures: a small deterministic segmentation network and a batch of images/labels for it.

The toy network has the model wrapper's contract (images [N,3,H,W] in [0,1] -> logits [N,C,H,W] at the
input size, ``num_classes``) and runs in milliseconds, so attack tests can sweep many settings.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(2)


class ToySegmenter(nn.Module):
    """Two strided convolutions and a bilinear upsampling back to the input size."""

    def __init__(self, num_classes: int = 5, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, num_classes, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv1((x - 0.5) * 4))
        return F.interpolate(self.conv2(h) * 3, size=x.shape[-2:], mode="bilinear", align_corners=False)


@pytest.fixture(scope="session")
def toy_model() -> ToySegmenter:
    return ToySegmenter()


@pytest.fixture
def toy_batch(toy_model):
    """Three 12×16 images with ground truth = the clean prediction with some pixels flipped and ignored."""
    g = torch.Generator().manual_seed(1)
    images = torch.rand(3, 3, 12, 16, generator=g)
    with torch.no_grad():
        labels = toy_model(images).argmax(1)
    flip = torch.rand(labels.shape, generator=g) < 0.2
    labels = torch.where(flip, (labels + 1) % toy_model.num_classes, labels)
    labels[torch.rand(labels.shape, generator=g) < 0.1] = 255
    return images, labels
