"""ONNX Runtime backend for crops-mode members (--backend onnx): same detections as PyTorch."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import assert_same_detections

from cli.main import cli
from detector.classifier import ClassifierSpec, Member, build_classifier
from detector.data.vocab import ilsvrc_categories
from detector.pipeline import Detector

pytestmark = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                                reason="onnxruntime not installed")

CLASSES = (ilsvrc_categories()[123], ilsvrc_categories()[57])


def member(bbox_reg: bool, mode: str = "crops") -> Member:
    torch.manual_seed(3)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25, bbox_reg=bbox_reg, mode=mode,
                          fast_short_side=200, fast_max_side=400)
    model = build_classifier(spec)
    with torch.no_grad():
        model.backbone.fc.weight.mul_(0.05)
        model.backbone.fc.bias[1] = 1.0
    return Member(model.eval(), spec, CLASSES, {})


@pytest.mark.parametrize("bbox_reg,mode", [(False, "crops"), (True, "crops"), (False, "fast"), (True, "fast")])
def test_onnx_scores_and_detections_equal_torch(bbox_reg, mode):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    xy = rng.uniform(0, 100, (70, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 60, (70, 2))], 1).astype(np.float32)
    m = member(bbox_reg, mode)
    before = {k: v.clone() for k, v in m.model.state_dict().items()}
    ort = Detector(None, [m], batch_size=32, backend="onnx")
    assert ort.uses_onnx  # the member really runs on ONNX Runtime
    # exporting leaves the model as it was: eval mode, BatchNorm statistics untouched
    assert not any(x.training for x in m.model.modules())
    assert all(torch.equal(before[k], v) for k, v in m.model.state_dict().items())
    ref = Detector(None, [m], batch_size=32, backend="torch")
    p_ref, r_ref = ref.score_regions(image, torch.from_numpy(boxes))
    p_ort, r_ort = ort.score_regions(image, torch.from_numpy(boxes))
    assert float((p_ref - p_ort).abs().max()) < 1e-5
    if bbox_reg:
        torch.testing.assert_close(r_ort, r_ref, rtol=1e-5, atol=1e-3)  # pixels
    assert_same_detections(ref.detect(image, boxes), ort.detect(image, boxes), box_atol=1e-3, score_atol=1e-5)


def test_cli_backend_onnx(tmp_path):
    from PIL import Image

    from detector.classifier import save_member

    m = member(False)
    path = save_member(tmp_path / "m.pt", m.model, m.spec, CLASSES)
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 80, (90, 120, 3), dtype=np.uint8)
    arr[20:70, 30:90] = (200, 40, 40)
    Image.fromarray(arr).save(tmp_path / "a.png")
    docs = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / f"{backend}.json"
        res = CliRunner().invoke(cli, ["run", str(tmp_path / "a.png"), "--model", str(path), "--out", str(out),
                                       "--workers", "0", "--no-cache", "--max-proposals", "50", "--backend",
                                       backend])
        assert res.exit_code == 0, res.output
        docs[backend] = json.loads(out.read_text())
    a, b = docs["torch"]["detections"], docs["onnx"]["detections"]
    assert len(a) == len(b) > 0
    # the same detections; scores within 2e-5, so two of nearly equal score may come in either order (seen under load)
    key = lambda d: (d["category_id"], tuple(d["bbox"]))
    for x, y in zip(sorted(a, key=key), sorted(b, key=key)):
        assert x["category_id"] == y["category_id"] and x["bbox"] == y["bbox"]
        assert abs(x["score"] - y["score"]) <= 2e-5
