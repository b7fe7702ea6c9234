"""Our mIoU and per-class IoU against Cityscapes' own pixel-level evaluation (cityscapesscripts, a dev dependency).

cityscapesscripts evaluates label-id PNG files; we write random train-id predictions and labels (with ignore
pixels) as such files, run its evaluateImgLists, and compare with uwl_utils.metrics on the same arrays.
"""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from uwl_utils.metrics import ConfusionMatrix

cs_eval = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
cs_labels = pytest.importorskip("cityscapesscripts.helpers.labels")


def test_miou_and_class_ious_equal_cityscapes_pixel_level_evaluation(tmp_path, monkeypatch):
    train_ids = [lab for lab in cs_labels.labels if 0 <= lab.trainId < 19 and lab.id >= 0]
    assert len(train_ids) == 19
    to_label_id = np.zeros(256, dtype=np.uint8)  # train id -> label id; 255 -> 0 ("unlabeled", ignored in eval)
    for lab in train_ids:
        to_label_id[lab.trainId] = lab.id
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 19, size=(3, 24, 40))
    labels[labels == 7] = 3  # train id 7 never in the ground truth: IoU 0 where predicted, else NaN (skipped)
    labels[rng.random(labels.shape) < 0.2] = 255  # ignore pixels
    labels[2, :, :20] = 255
    pred = np.where(rng.random(labels.shape) < 0.6, labels, rng.integers(0, 19, size=labels.shape))
    pred[pred == 255] = rng.integers(0, 19)  # a prediction is always a class
    pred[:, 0, 0] = 12  # some predictions of 12 on ignore pixels must not count
    labels[:, 0, 0] = 255

    gt_files, pred_files = [], []
    for i in range(len(labels)):
        gt_files.append(str(tmp_path / f"gt{i}_gtFine_labelIds.png"))
        pred_files.append(str(tmp_path / f"pred{i}.png"))
        Image.fromarray(to_label_id[labels[i]]).save(gt_files[-1])
        Image.fromarray(to_label_id[pred[i]]).save(pred_files[-1])
    for name, value in {"evalInstLevelScore": False, "JSONOutput": False, "quiet": True}.items():
        monkeypatch.setattr(cs_eval.args, name, value)
    theirs = cs_eval.evaluateImgLists(pred_files, gt_files, cs_eval.args)

    ours = ConfusionMatrix(19)
    ours.update(torch.from_numpy(pred), torch.from_numpy(labels))
    class_iou = ours.iou()
    for lab in train_ids:
        expected = theirs["classScores"][lab.name]
        if math.isnan(expected):
            assert math.isnan(class_iou[lab.trainId]), lab.name
        else:
            assert class_iou[lab.trainId].item() == pytest.approx(expected, abs=1e-6), lab.name
    assert ours.miou() == pytest.approx(theirs["averageScoreClasses"], abs=1e-6)
    assert class_iou[7].item() == 0 == theirs["classScores"][train_ids[7].name]  # predicted, never in the labels
