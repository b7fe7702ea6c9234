import numpy as np
import pytest
import torch
from mmseg.evaluation.metrics import IoUMetric

from uwl_utils.metrics import ConfusionMatrix, apsr, confusion_matrices, delta_miou, miou, perturbation_norms


def test_confusion_matrix_by_hand():
    labels = torch.tensor([[[0, 0, 1, 255], [2, 2, 2, 1]]])
    pred = torch.tensor([[[0, 1, 1, 2], [2, 0, 2, 1]]])
    m = confusion_matrices(pred, labels, 3)[0]
    expected = torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 2]])  # rows: truth, columns: prediction
    assert torch.equal(m, expected)
    # IoU: class 0: 1/(2+2-1); class 1: 2/(2+3-2); class 2: 2/(3+2-2)
    cm = ConfusionMatrix(3)
    cm.update(pred, labels)
    torch.testing.assert_close(cm.iou(), torch.tensor([1 / 3, 2 / 3, 2 / 3], dtype=torch.float64))
    assert cm.pixel_accuracy() == pytest.approx(5 / 7)
    assert cm.apsr() == pytest.approx(2 / 7)


def test_classes_without_union_are_skipped():
    m = torch.tensor([[3, 1, 0], [0, 0, 0], [0, 0, 0]])  # class 2 never occurs, class 1 only predicted
    assert miou(m) == pytest.approx((3 / 4 + 0.0) / 2)


def test_apsr_pooled_and_mean_by_hand():
    labels = torch.tensor([[[0, 1, 255, 255]], [[0, 1, 1, 1]]])
    pred = torch.tensor([[[1, 1, 0, 0]], [[0, 1, 0, 0]]])
    per_image = apsr(pred, labels)
    torch.testing.assert_close(per_image, torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert apsr(pred, labels, reduction="pooled").item() == pytest.approx(3 / 6)
    pred[1] = torch.tensor([[0, 1, 1, 0]])
    assert apsr(pred, labels, reduction="mean").item() == pytest.approx((0.5 + 0.25) / 2)
    assert apsr(pred, labels, reduction="pooled").item() == pytest.approx(2 / 6)


def test_apsr_of_image_without_valid_pixels_is_nan_and_skipped_in_mean():
    labels = torch.tensor([[[255, 255]], [[0, 1]]])
    pred = torch.tensor([[[0, 0]], [[0, 0]]])
    assert torch.isnan(apsr(pred, labels)[0])
    assert apsr(pred, labels, reduction="mean").item() == pytest.approx(0.5)


def test_agrees_with_mmseg_iou_metric_on_random_predictions():
    gen = torch.Generator().manual_seed(3)
    num_classes = 7
    cm = ConfusionMatrix(num_classes)
    areas = []
    for _ in range(4):
        labels = torch.randint(0, num_classes, (2, 17, 23), generator=gen)
        labels[torch.rand(labels.shape, generator=gen) < 0.2] = 255
        labels[labels == 6] = 5  # class 6 never in the ground truth ...
        pred = torch.randint(0, num_classes - 1, labels.shape, generator=gen)  # ... nor predicted
        cm.update(pred, labels)
        for p, y in zip(pred, labels, strict=True):
            areas.append(IoUMetric.intersect_and_union(p, y, num_classes, 255))
    totals = [sum(a[i] for a in areas) for i in range(4)]
    ref = IoUMetric.total_area_to_metrics(*totals, metrics=["mIoU"])
    np.testing.assert_allclose(cm.iou().numpy(), ref["IoU"], atol=1e-6, equal_nan=True)
    assert np.isnan(ref["IoU"][6])
    assert cm.miou() == pytest.approx(float(np.nanmean(ref["IoU"])), abs=1e-6)
    assert cm.pixel_accuracy() == pytest.approx(float(ref["aAcc"]), abs=1e-6)
    assert cm.apsr() == pytest.approx(1 - float(ref["aAcc"]), abs=1e-6)


def test_add_pools_per_image_counts():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (3, 5, 5), generator=gen)
    pred = torch.randint(0, 4, (3, 5, 5), generator=gen)
    a = ConfusionMatrix(4)
    per_image = a.update(pred, labels)
    b = ConfusionMatrix(4)
    for m in per_image:
        b.add(m.numpy())
    assert torch.equal(a.matrix, b.matrix)


def test_perturbation_norms_and_delta():
    x = torch.zeros(2, 3, 2, 2)
    adv = x.clone()
    adv[0, 0, 0, 0] = 0.5
    adv[0, 1, 1, 1] = -0.25
    norms = perturbation_norms(adv, x)
    assert norms["linf"].tolist() == [0.5, 0.0]
    assert norms["l2"][0].item() == pytest.approx((0.25 + 0.0625) ** 0.5)
    assert norms["l1"][0].item() == pytest.approx(0.75)
    assert delta_miou(0.6, 0.2) == pytest.approx(0.4)


def test_bad_input():
    labels = torch.zeros(1, 2, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrices(torch.zeros(1, 2, 3, dtype=torch.long), labels, 3)
    with pytest.raises(ValueError, match="argmax"):
        confusion_matrices(torch.zeros(1, 2, 2), labels, 3)
    with pytest.raises(ValueError, match="found \\[9\\]"):
        confusion_matrices(torch.zeros(1, 2, 2, dtype=torch.long), labels + 9, 3)
    with pytest.raises(ValueError, match="reduction"):
        apsr(labels, labels, reduction="sum")
