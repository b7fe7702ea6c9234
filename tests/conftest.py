"""Shared fixtures: the toy segmentation network of :mod:`uwl_utils.testing` and a batch of images/labels for it."""

from __future__ import annotations

import pytest
import torch

from uwl_utils.testing import ToySegmenter

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread while a module's tests run: toy tensors are tiny, and a second thread on a busy
    2-core machine only adds contention (up to 10x slower). Use with ``pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
