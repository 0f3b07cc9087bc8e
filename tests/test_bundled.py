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
    """Issue 15: the bundle is a crops-mode member and three fast-mode members (the crops one is poor in fast mode).
    By default all run, each in its own mode; `--mode fast` / `--mode crops` without --model run the members trained
    in that mode; `--preset fast` runs the bundled fast model (detector/models/fast: one crops-mode member), and
    `--preset fast --mode fast` the default ensemble's fast-mode members (README, "Presets")."""
    from detector.classifier import load_member

    folder = ROOT / "detector" / "models" / "default"
    files = sorted(folder.glob("member*.pt"))
    assert [load_member(f).spec.mode for f in files] == ["crops", "fast", "fast", "fast"]
    image = ROOT / "samples" / "images" / "FudanPed00001.jpg"
    docs = {}
    fast_model = sorted((ROOT / "detector" / "models" / "fast").glob("*.pt"))
    assert [load_member(f).spec.mode for f in fast_model] == ["crops"]
    for name, args in ((None, []), ("fast", ["--mode", "fast"]), ("crops", ["--mode", "crops"]),
                       ("preset", ["--preset", "fast"]), ("preset_fast", ["--preset", "fast", "--mode", "fast"])):
        out = tmp_path / f"{name}.json"
        res = CliRunner().invoke(cli, ["run", str(image), "--out", str(out), "--proposals", "multibox",
                                       "--no-cache", *args])
        assert res.exit_code == 0, res.output
        docs[name] = json.loads(out.read_text())
    assert docs[None]["model"]["files"] == [str(f) for f in files]
    assert docs[None]["model"]["mode"] == "mixed" and docs[None]["model"]["modes"] == ["crops", "fast", "fast", "fast"]
    assert docs[None]["model"]["name"] == "default" and docs["crops"]["model"]["name"] == "member0"  # user trial
    for name, members, mode in (("fast", files[1:], "fast"), ("crops", files[:1], "crops"),
                                ("preset", fast_model, "crops"), ("preset_fast", files[1:], "fast")):
        assert docs[name]["model"]["files"] == [str(f) for f in members] and docs[name]["model"]["mode"] == mode
        people = [d for d in docs[name]["detections"] if d["category_id"] == 124 and d["score"] >= 0.5]
        assert people, name  # each finds the pedestrians
