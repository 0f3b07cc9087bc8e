"""The bundled models and samples: `detect run` with no --model on the README's sample images."""

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from cli.main import cli
from detector.data import box_iou, read_dataset

ROOT = Path(__file__).resolve().parents[1]


def test_detect_run_with_bundled_model_finds_people(tmp_path):
    out = tmp_path / "boxes.json"
    image = ROOT / "samples" / "images" / "FudanPed00001.jpg"
    res = CliRunner().invoke(cli, ["run", str(image), "--out", str(out), "--workers", "0", "--no-cache"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["model"]["files"][0].endswith("member0.pt") and "models/default" in doc["model"]["files"][0]
    people = [d for d in doc["detections"] if d["category_id"] == 124]
    assert people, "no person detected"
    gt = read_dataset(ROOT / "samples" / "annotations.json")
    gt_boxes = next(im for im in gt.images if im.file_name == "FudanPed00001.jpg").boxes
    best = max(people, key=lambda d: d["score"])
    x, y, w, h = best["bbox"]
    # the model is small and weak (see its card), but its most confident person is one of the two pedestrians
    assert best["score"] >= 0.5
    assert box_iou(gt_boxes, np.array([[x, y, x + w, y + h]], np.float32)).max() >= 0.5


def test_bundled_multibox_loads():
    from proposals.multibox import load_multibox

    model, ckpt = load_multibox(ROOT / "proposals" / "models" / "multibox.pt")
    assert model.config.num_priors == 200 and ckpt["train"]["epoch"] >= 1


def test_the_bundled_ensemble_and_its_modes(tmp_path):
    """Issue 15: the bundle is a crops-mode member and a fast-mode member (the crops one is poor in fast mode). By
    default both run, each in its own mode; `--mode fast` / `--mode crops` without --model run the member trained
    in that mode."""
    from detector.classifier import load_member

    folder = ROOT / "detector" / "models" / "default"
    assert [load_member(folder / f"member{i}.pt").spec.mode for i in (0, 1)] == ["crops", "fast"]
    image = ROOT / "samples" / "images" / "FudanPed00001.jpg"
    docs = {}
    for mode in (None, "fast", "crops"):
        out = tmp_path / f"{mode}.json"
        res = CliRunner().invoke(cli, ["run", str(image), "--out", str(out), "--proposals", "multibox",
                                       "--no-cache", *(["--mode", mode] if mode else [])])
        assert res.exit_code == 0, res.output
        docs[mode] = json.loads(out.read_text())
    assert docs[None]["model"]["files"] == [str(folder / "member0.pt"), str(folder / "member1.pt")]
    assert docs[None]["model"]["mode"] == "mixed" and docs[None]["model"]["modes"] == ["crops", "fast"]
    assert docs[None]["model"]["name"] == "default" and docs["fast"]["model"]["name"] == "member1"  # user trial
    for mode, member in (("fast", "member1.pt"), ("crops", "member0.pt")):
        assert docs[mode]["model"]["files"] == [str(folder / member)] and docs[mode]["model"]["mode"] == mode
        people = [d for d in docs[mode]["detections"] if d["category_id"] == 124 and d["score"] >= 0.5]
        assert people, mode  # each finds the pedestrians
