import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.vocab import ilsvrc_categories


def tiny_model(path, seed=0):
    torch.manual_seed(seed)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25)
    model = build_classifier(spec)
    with torch.no_grad():  # make "person" likely everywhere so that the run produces detections
        model.backbone.fc.bias[1] = 4.0
    return save_member(path, model.eval(), spec, [ilsvrc_categories()[123], ilsvrc_categories()[57]])


def images_folder(tmp_path):
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "sub/b.png"):
        arr = rng.integers(0, 60, (90, 120, 3), dtype=np.uint8)
        arr[20:70, 30:90] = (200, 40, 40)
        Image.fromarray(arr).save(d / name)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    return d


def test_run_end_to_end_with_corrupt_image(tmp_path):
    d = images_folder(tmp_path)
    model = tiny_model(tmp_path / "m.pt")
    out = tmp_path / "boxes.json"
    args = ["run", str(d), "--out", str(out), "--model", str(model), "--workers", "0", "--cache-dir",
            str(tmp_path / "cache"), "--max-proposals", "50", "--draw", str(tmp_path / "drawn")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert set(doc) == {"model", "images", "categories", "detections", "errors", "job"}
    assert doc["job"]["inputs"] == 3 and "shard" not in doc["job"]
    assert not (tmp_path / "boxes.json.part.jsonl").exists()  # removed once the output is complete
    assert [im["file_name"] for im in doc["images"]] == ["a.jpg", "sub/b.png"]
    assert doc["images"][0] == {"id": 1, "file_name": "a.jpg", "width": 120, "height": 90}
    assert doc["images"][1]["id"] == 3  # ids follow the input order, the broken image included
    assert [e["file_name"] for e in doc["errors"]] == ["broken.jpg"] and doc["errors"][0]["error"]
    assert doc["categories"][0] == {"id": 124, "wnid": "n00007846", "name": "person"}
    assert doc["model"]["members"] == 1 and doc["model"]["classes"] == 2
    assert doc["detections"], "the biased tiny model should detect something"
    for det in doc["detections"]:
        x, y, w, h = det["bbox"]
        assert det["category_id"] in (124, 58) and 0 <= det["score"] <= 1
        assert x >= 0 and y >= 0 and x + w <= 120.01 and y + h <= 90.01
    assert (tmp_path / "drawn" / "a.jpg").is_file() and (tmp_path / "drawn" / "sub" / "b.jpg").is_file()
    # the detections feed `detect eval` directly (COCO GT written for the two images)
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 120, "height": 90}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [30, 20, 60, 50], "iscrowd": 0,
                           "area": 3000}],
          "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(tmp_path / "gt.json"), "--pred", str(out)])
    assert res.exit_code == 0, res.output
    assert "ilsvrc mAP" in res.output


def test_run_ensemble_folder_and_formats(tmp_path):
    d = images_folder(tmp_path)
    tiny_model(tmp_path / "ens" / "m0.pt", 0)
    tiny_model(tmp_path / "ens" / "m1.pt", 1)
    out = tmp_path / "res.txt"
    base = ["run", str(d / "a.jpg"), "--model", str(tmp_path / "ens"), "--workers", "0", "--no-cache",
            "--max-proposals", "20"]
    res = CliRunner().invoke(cli, base + ["--out", str(out), "--format", "ilsvrc"])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert lines and all(len(line.split()) == 7 and line.split()[0] == "1" for line in lines)
    res = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "r.json"), "--format", "coco"])
    assert res.exit_code == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert isinstance(results, list) and set(results[0]) == {"image_id", "category_id", "bbox", "score"}


def test_run_errors(tmp_path):
    d = images_folder(tmp_path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    res = CliRunner().invoke(cli, ["run", str(d), "--model", str(bad), "--workers", "0"])
    assert res.exit_code == 1 and "bad.pt" in res.output
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "empty"), "--model", str(bad)])
    assert res.exit_code == 1 and "no images" in res.output


def test_malformed_model_files_are_clear_errors(tmp_path):
    """Issue 12, kind 8: a model file with a malformed spec (or other field) is an error naming the file and the
    field, not a traceback."""
    from detector.classifier import CheckpointError, load_member
    from proposals.multibox import MultiBox, MultiBoxConfig, load_multibox, save_multibox

    good = torch.load(tiny_model(tmp_path / "good.pt"), weights_only=True)
    cases = {"spec_text": ({"spec": "x"}, "malformed 'spec'", "expected a mapping of settings, got str 'x'"),
             "arch_number": ({"spec": {**good["spec"], "arch": 5}}, "malformed 'spec'", "arch must be text, got 5"),
             "size_text": ({"spec": {**good["spec"], "input_size": "big"}}, "input_size must be an integer",
                           "'big'"),
             "mean_short": ({"spec": {**good["spec"], "mean": [0.5]}}, "mean must be a list of 3 numbers", "[0.5]"),
             "no_spec": ({"spec": None}, "malformed 'spec'", "NoneType"),
             "state_text": ({"state_dict": "x"}, "inconsistent model file", "AttributeError"),
             "train_number": ({"train": 5}, "inconsistent model file", "TypeError")}
    for name, (change, *needles) in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save({**good, **change}, path)
        with pytest.raises(CheckpointError) as e:
            load_member(path)
        assert str(e.value).startswith(f"{path}: ") and all(n in str(e.value) for n in needles), str(e.value)
    res = CliRunner().invoke(cli, ["run", str(images_folder(tmp_path)), "--model", str(tmp_path / "size_text.pt"),
                                   "--out", str(tmp_path / "b.json"), "--workers", "0"])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert "size_text.pt" in res.output and "input_size must be an integer, got 'big'" in res.output

    mb = torch.load(save_multibox(tmp_path / "mb.pt", MultiBox(MultiBoxConfig(num_priors=2, input_size=96,
                                                                              width=0.25),
                                                               np.zeros((2, 4), np.float32))), weights_only=True)
    for name, change, needle in (("c_text", {"config": "x"}, "malformed 'config'"),
                                 ("c_size", {"config": {**mb["config"], "input_size": "big"}},
                                  "input_size must be an integer"),
                                 ("priors_list", {"priors": [1, 2]}, "'priors' must be a tensor")):
        path = tmp_path / f"{name}.pt"
        torch.save({**mb, **change}, path)
        with pytest.raises(CheckpointError, match=needle) as e:
            load_multibox(path)
        assert str(e.value).startswith(f"{path}: ")
