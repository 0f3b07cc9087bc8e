"""Iterative localization (``detect run --refine N``): the kept detections' boxes regressed again."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torchvision.ops import clip_boxes_to_image

from cli.main import cli
from detector.classifier import Member, save_member
from detector.pipeline import Detector, PostprocessConfig, apply_box_deltas
from test_fast_mode import CLASSES, constant_network, fast_spec

DELTAS = (0.5, -0.3, 0.4, 0.2)  # every box moves right and up, and grows: (dx, dy, dw, dh) before the weights


def constant_model(bbox_reg: bool, mode: str = "crops"):
    """The real GoogLeNet with every convolution zeroed (:func:`test_fast_mode.constant_network`): the regression
    moves any box by DELTAS, for every class."""
    spec = fast_spec(bbox_reg=bbox_reg, mode=mode)
    return constant_network(spec, torch.tensor(DELTAS).repeat(3) if bbox_reg else None), spec


IMAGE = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
PROPOSALS = np.array([[10, 10, 50, 60], [70, 20, 120, 90], [20, 60, 60, 110], [100, 70, 150, 115]], np.float32)


@pytest.mark.parametrize("mode", ["crops", "fast"])
def test_each_step_moves_the_kept_boxes_by_the_regression_once_more(mode):
    model, spec = constant_model(True, mode)
    member = Member(model, spec, CLASSES, {})
    dets = [Detector(None, [member], PostprocessConfig(refine=n), batch_size=3).detect(IMAGE, PROPOSALS)
            for n in (0, 1, 2)]
    assert len(dets[0]) == 8  # four regions, two classes, no overlaps to suppress
    deltas = torch.tensor(DELTAS).expand(len(dets[0]), 1, 4)
    expected = torch.from_numpy(dets[0].boxes)
    for step in (1, 2):
        expected = clip_boxes_to_image(apply_box_deltas(expected, deltas)[:, 0], IMAGE.shape[:2])
        np.testing.assert_allclose(dets[step].boxes, expected.numpy(), atol=1e-3)
        # scores, labels and order stay those of the detections before refinement
        np.testing.assert_array_equal(dets[step].scores, dets[0].scores)
        np.testing.assert_array_equal(dets[step].labels, dets[0].labels)
    assert not np.allclose(dets[1].boxes, dets[0].boxes)


def test_refine_changes_nothing_without_box_regression():
    model, spec = constant_model(False)
    member = Member(model, spec, CLASSES, {})
    a, b = (Detector(None, [member], PostprocessConfig(refine=n)).detect(IMAGE, PROPOSALS) for n in (0, 2))
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_cli_refine_end_to_end_and_in_the_job_identity(tmp_path):
    model, spec = constant_model(True)
    path = save_member(tmp_path / "m.pt", model, spec, CLASSES)
    Image.fromarray(IMAGE).save(tmp_path / "a.png")
    docs = {}
    for n in (0, 1):
        out = tmp_path / f"r{n}.json"
        res = CliRunner().invoke(cli, ["run", str(tmp_path / "a.png"), "--model", str(path), "--out", str(out),
                                       "--proposals", "ss", "--ss-mode", "single", "--refine", str(n), "--no-cache"])
        assert res.exit_code == 0, res.output
        docs[n] = json.loads(out.read_text())
    assert "refine" not in docs[0]["job"]["settings"] and docs[1]["job"]["settings"]["refine"] == 1
    d0, d1 = docs[0]["detections"], docs[1]["detections"]
    assert len(d0) == len(d1) > 0
    assert [d["score"] for d in d0] == [d["score"] for d in d1]
    moved = [not np.allclose(a["bbox"], b["bbox"], atol=0.01) for a, b in zip(d0, d1)]
    assert sum(moved) > len(moved) // 2  # boxes already clipped at the edge by the first regression may stay


@pytest.mark.parametrize("value", ["-1", "11", "99999999999999999999", "1.5", "abc"])
def test_refine_option_rejects_what_is_not_0_to_10(tmp_path, value):
    """User trial: --refine 99999999999999999999 ran for ten minutes on one image; the bound is MAX_REFINE."""
    Image.fromarray(IMAGE).save(tmp_path / "a.png")
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "a.png"), "--refine", value, "--out", str(tmp_path / "b.json")])
    assert res.exit_code == 2 and "--refine" in res.output and not (tmp_path / "b.json").exists()


def test_refine_on_a_model_without_box_regression_says_it_does_nothing(tmp_path):
    model, spec = constant_model(False)
    path = save_member(tmp_path / "m.pt", model, spec, CLASSES)
    Image.fromarray(IMAGE).save(tmp_path / "a.png")
    args = ["run", str(tmp_path / "a.png"), "--model", str(path), "--proposals", "ss", "--ss-mode", "single",
            "--no-cache"]
    res = CliRunner().invoke(cli, [*args, "--refine", "2", "--out", str(tmp_path / "r2.json")])
    assert res.exit_code == 0 and "note: --refine 2 does nothing here: no member regresses boxes" in res.output
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r0.json")])
    assert res.exit_code == 0 and "--refine" not in res.output
    assert json.loads((tmp_path / "r2.json").read_text())["detections"] == \
        json.loads((tmp_path / "r0.json").read_text())["detections"]
