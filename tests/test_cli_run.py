import json
import re
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

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



def test_run_no_input_used_message_and_resume(tmp_path):
    """Every input failed: exit 1, and the message says where the errors are — only boxes.json records them, a
    COCO results list or ILSVRC text does not — and a --resume of that finished output exits 1 again (trial 39:
    the message named 'errors' in a COCO list of [], and the requeued job exited 0)."""
    d = tmp_path / "bad"
    d.mkdir()
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    model = tiny_model(tmp_path / "m.pt")
    common = ["--model", str(model), "--workers", "0", "--no-cache", "--max-proposals", "50"]
    out = tmp_path / "boxes.json"
    res = CliRunner().invoke(cli, ["run", str(d), "--out", str(out), *common])
    assert res.exit_code == 1 and f"listed under 'errors' in {out}" in res.output, res.output
    res = CliRunner().invoke(cli, ["run", str(d), "--out", str(out), "--resume", *common])
    assert res.exit_code == 1 and "nothing to resume" in res.output, res.output
    assert "no input could be used: 1 input failed, listed under 'errors'" in res.output, res.output
    for fmt, kind in (("coco", "a COCO results list"), ("ilsvrc", "ILSVRC submission text")):
        other = tmp_path / f"out.{fmt}"
        res = CliRunner().invoke(cli, ["run", str(d), "--out", str(other), "--format", fmt, *common])
        assert res.exit_code == 1 and "listed under 'errors' in" not in res.output, res.output
        record = other.with_name(other.name + ".job.json")
        assert f"named above with its reason ({other} is {kind}, which has no place for errors: they are under " \
            f"'errors' in its job record {record})" in res.output, res.output
        assert [e["file_name"] for e in json.loads(record.read_text())["errors"]] == ["broken.jpg"]
        res = CliRunner().invoke(cli, ["run", str(d), "--out", str(other), "--format", fmt, "--resume", *common])
        assert res.exit_code == 1 and "nothing to resume" in res.output, res.output  # as that run exited
        assert f"listed under 'errors' with its reason in the job record {record}" in res.output, res.output
    # one usable image among failed ones: exit 0, and --resume of that finished output too
    Image.fromarray(np.full((90, 120, 3), 90, dtype=np.uint8)).save(d / "good.jpg")
    mixed = tmp_path / "mixed.json"
    for extra in ([], ["--resume"]):
        res = CliRunner().invoke(cli, ["run", str(d), "--out", str(mixed), *extra, *common])
        assert res.exit_code == 0, res.output


def test_run_end_to_end_with_corrupt_image(tmp_path):
    d = images_folder(tmp_path)
    model = tiny_model(tmp_path / "m.pt")
    out = tmp_path / "boxes.json"
    args = ["run", str(d), "--out", str(out), "--model", str(model), "--workers", "0", "--cache-dir",
            str(tmp_path / "cache"), "--max-proposals", "50", "--draw", str(tmp_path / "drawn")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert set(doc) == {"model", "images", "categories", "detections", "errors", "job", "drawing"}
    assert doc["drawing"] == {"threshold": 0.3}  # what the pictures show (trial 61: a --resume redraws another's)
    assert doc["job"]["inputs"] == 3 and "shard" not in doc["job"]
    assert not (tmp_path / "boxes.json.part.jsonl").exists()  # removed once the output is complete
    assert [im["file_name"] for im in doc["images"]] == ["a.jpg", "sub/b.png"]
    assert doc["images"][0] == {"id": 1, "file_name": "a.jpg", "width": 120, "height": 90}
    assert doc["images"][1]["id"] == 3  # ids follow the input order, the broken image included
    assert [e["file_name"] for e in doc["errors"]] == ["broken.jpg"] and doc["errors"][0]["error"]
    # the time is that of the 3 inputs, the broken one included, in plain words: not resume's "run now" (trial)
    assert " inputs/s, engine" in res.output and " images/s" not in res.output, res.output  # trial 19
    assert "2 images, " in res.output and " s for 3 inputs (" in res.output and "run now" not in res.output, \
        res.output
    assert doc["categories"][0] == {"id": 124, "wnid": "n00007846", "name": "person"}
    assert doc["model"]["members"] == 1 and doc["model"]["classes"] == 2
    # a broken link in the folder is an error from the listing, never run: the time line says so (user trial: "9
    # inputs" on one line, "for 8 inputs" on the next)
    (d / "gone.jpg").symlink_to(d / "missing.jpg")
    res = CliRunner().invoke(cli, [*args[:3], str(tmp_path / "b2.json"), *args[4:]])
    assert res.exit_code == 0, res.output
    assert "2 errors (4 inputs)" in res.output and " s for the 3 inputs run (1 refused while listing) (" in res.output
    only = tmp_path / "only_link"  # every input refused while listing (trial 16: "for the 0 images run")
    only.mkdir()
    (only / "gone.jpg").symlink_to(only / "missing.jpg")
    res = CliRunner().invoke(cli, [*args[:1], str(only), "--out", str(tmp_path / "b3.json"), *args[4:]])
    # every input failing is an error a script sees (exit 1), the output still written with the inputs' errors
    assert res.exit_code == 1 and " s for no input run (1 refused while listing) (" in res.output, res.output
    assert "Error: no input could be used: 1 input failed, listed under 'errors'" in res.output, res.output
    assert [e["file_name"] for e in json.loads((tmp_path / "b3.json").read_text())["errors"]] == ["gone.jpg"]
    res = CliRunner().invoke(cli, [*args[:1], str(d / "broken.jpg"), "--out", str(tmp_path / "b4.json"),
                                   *args[4:]])  # one corrupt image, which fails while it is run
    assert res.exit_code == 1 and "no input could be used: 1 input failed" in res.output, res.output
    assert json.loads((tmp_path / "b4.json").read_text())["errors"][0]["file_name"] == "broken.jpg"
    assert doc["detections"], "the biased tiny model should detect something"
    for det in doc["detections"]:
        x, y, w, h = det["bbox"]
        assert det["category_id"] in (124, 58) and 0 <= det["score"] <= 1
        assert x >= 0 and y >= 0 and x + w <= 120.01 and y + h <= 90.01
    # each picture under its input's relative path and name, in that file's format (issue 12: x.jpg and x.png
    # beside each other must not overwrite one another's picture)
    assert sorted(p.relative_to(tmp_path / "drawn").as_posix() for p in (tmp_path / "drawn").rglob("*")
                  if p.is_file()) == ["a.jpg", "sub/b.png"]
    assert Image.open(tmp_path / "drawn" / "a.jpg").format == "JPEG"
    assert Image.open(tmp_path / "drawn" / "sub" / "b.png").format == "PNG"
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
    assert (tmp_path / "res.images.txt").read_text() == "a.jpg 1\n"  # the list numbering the text's images
    assert f"→ {out} and its image list {tmp_path / 'res.images.txt'}" in res.output  # named in the summary too
    res = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "r.json"), "--format", "coco"])
    assert res.exit_code == 0
    results = json.loads((tmp_path / "r.json").read_text())
    # COCO's four keys, and the image's path and the class's name, by which detect eval matches them (issue 12)
    assert isinstance(results, list) and set(results[0]) == {"image_id", "category_id", "bbox", "score", "file_name",
                                                             "category_name", "wnid"}
    assert results[0]["file_name"] == "a.jpg"


def test_run_errors(tmp_path):
    d = images_folder(tmp_path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    res = CliRunner().invoke(cli, ["run", str(d), "--model", str(bad), "--workers", "0"])
    assert res.exit_code == 1 and "bad.pt" in res.output
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, ["run", str(tmp_path / "empty"), "--model", str(bad)])
    assert res.exit_code == 1 and "no images" in res.output


# ------------------------------------------------------------------------------------------------ issue 12
def run_args(images, out, model, *extra):
    return ["run", str(images), "--out", str(out), "--model", str(model), "--workers", "0", "--no-cache",
            "--max-proposals", "30", "--threads", "1", *extra]


def blocky(path, width, height, seed=0, **save):
    """A small picture with one bright block (some proposals, some detections)."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    arr[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = (200, 40, 40)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **save)
    return path


def test_run_names_and_drawings_never_collide(tmp_path):
    """Issue 12, kind 3(b): a list naming cam_a/img.jpg and cam_b/img.jpg, and x.jpg beside x.png."""
    data = tmp_path / "data"
    sizes = {"cam_a/img.jpg": (120, 90), "cam_b/img.jpg": (100, 80), "x.jpg": (96, 72), "x.png": (110, 70)}
    for k, (name, (w, h)) in enumerate(sizes.items()):
        blocky(data / name, w, h, seed=k)
    lst = tmp_path / "list.txt"
    lst.write_text("".join(f"{data / name}\n" for name in sizes))
    out, drawn = tmp_path / "boxes.json", tmp_path / "drawn"
    res = CliRunner().invoke(cli, run_args(lst, out, tiny_model(tmp_path / "m.pt"), "--draw", str(drawn),
                                           "--draw-threshold", "0"))
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert [(im["file_name"], im["width"], im["height"]) for im in doc["images"]] == \
        [(name, w, h) for name, (w, h) in sizes.items()]  # relative to data/, the deepest common folder
    pictures = {p.relative_to(drawn).as_posix(): p for p in drawn.rglob("*") if p.is_file()}
    assert sorted(pictures) == sorted(sizes)  # one picture per image, under its file_name
    for name, (w, h) in sizes.items():
        with Image.open(pictures[name]) as pic:
            assert pic.size == (w, h) and pic.format == ("PNG" if name.endswith(".png") else "JPEG")


def test_run_reads_images_as_a_viewer_shows_them(tmp_path):
    """Issue 12, kind 5: EXIF-rotated JPEG, 16-bit PNG, grey, RGBA, palette and CMYK inputs all run; widths and
    heights are the displayed ones; every box lies inside the displayed image."""
    from helpers import write_png16

    d = tmp_path / "imgs"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 120 x 90, displayed 90 x 120
    blocky(d / "phone.jpg", 120, 90, exif=exif, quality=95)
    rgb = np.asarray(Image.open(blocky(tmp_path / "src.png", 100, 80))).astype(np.uint16)
    write_png16(d / "deep.png", rgb * 257)
    Image.open(tmp_path / "src.png").convert("L").save(d / "grey.png")
    Image.open(tmp_path / "src.png").convert("RGBA").save(d / "rgba.png")
    Image.open(tmp_path / "src.png").convert("P").save(d / "palette.png")
    Image.open(tmp_path / "src.png").convert("CMYK").save(d / "cmyk.jpg")
    out, drawn = tmp_path / "boxes.json", tmp_path / "drawn"
    res = CliRunner().invoke(cli, run_args(d, out, tiny_model(tmp_path / "m.pt"), "--draw", str(drawn)))
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["errors"] == []
    sizes = {im["file_name"]: (im["width"], im["height"]) for im in doc["images"]}
    assert sizes == {"cmyk.jpg": (100, 80), "deep.png": (100, 80), "grey.png": (100, 80), "palette.png": (100, 80),
                     "phone.jpg": (90, 120), "rgba.png": (100, 80)}
    by_id = {im["id"]: im for im in doc["images"]}
    assert doc["detections"]
    for det in doc["detections"]:
        x, y, w, h = det["bbox"]
        im = by_id[det["image_id"]]
        assert x >= 0 and y >= 0 and x + w <= im["width"] + 0.01 and y + h <= im["height"] + 0.01
    with Image.open(drawn / "phone.jpg") as pic:
        assert pic.size == (90, 120)


def test_one_image_never_ends_a_job(tmp_path, monkeypatch, caplog):
    """Issue 12, kind 6: an exception in MultiBox, in detection or in writing the record becomes that image's error
    and the job goes on (one in drawing, a drawing error: the detections are kept); an interrupted job then completes
    with --resume."""
    from detector.data import boxes_json
    from detector.pipeline import Detector
    from proposals.multibox import MultiBox, MultiBoxConfig, save_multibox

    d = tmp_path / "imgs"
    widths = {"boom_detect.png": 101, "boom_multibox.png": 102, "nan_score.png": 103, "ok1.png": 120,
              "ok2.jpg": 110, "sub/drawn.png": 104}
    for k, (name, w) in enumerate(widths.items()):
        blocky(d / name, w, 80, seed=k)
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    (drawn / "sub").write_text("a file where the folder for sub/drawn.png should be")
    priors = np.array([[0.2, 0.2, 0.8, 0.8], [0, 0, 0.5, 0.5]], np.float32)
    mb = save_multibox(tmp_path / "mb.pt", MultiBox(MultiBoxConfig(num_priors=2, input_size=96, width=0.25),
                                                    priors).eval())

    detect, propose, entries = Detector.detect, MultiBox.propose, boxes_json.detection_entries

    def failing_detect(self, image, proposals=None):
        if image.shape[1] == 101:
            raise RuntimeError("simulated failure in the classifier")
        if image.shape[1] == 110 and stop_at_ok2:
            raise KeyboardInterrupt  # the job is stopped here (Ctrl-C)
        return detect(self, image, proposals)

    def failing_propose(self, image, *args, **kwargs):
        if image.shape[1] == 102:
            raise RuntimeError("simulated failure in MultiBox")
        return propose(self, image, *args, **kwargs)

    def nan_entries(image_id, boxes, scores, labels, classes):
        out = entries(image_id, boxes, scores, labels, classes)
        return [{**e, "score": float("nan")} for e in out] if image_id == 3 else out

    monkeypatch.setattr(Detector, "detect", failing_detect)
    monkeypatch.setattr(MultiBox, "propose", failing_propose)
    monkeypatch.setattr(boxes_json, "detection_entries", nan_entries)
    out = tmp_path / "boxes.json"
    args = run_args(d, out, tiny_model(tmp_path / "m.pt"), "--proposals", "both", "--multibox", str(mb),
                    "--draw", str(drawn), "--draw-threshold", "0")
    stop_at_ok2 = True
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "--resume" in res.output and not out.exists()
    stop_at_ok2 = False
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert "4 of 6 images already done" in res.output
    doc = json.loads(out.read_text())
    assert [im["file_name"] for im in doc["images"]] == ["ok1.png", "ok2.jpg", "sub/drawn.png"]
    errors = {e["file_name"]: e["error"] for e in doc["errors"]}
    assert errors == {
        "boom_detect.png": "detection failed: RuntimeError: simulated failure in the classifier",
        "boom_multibox.png": "proposals failed: RuntimeError: simulated failure in MultiBox",
        "nan_score.png": "writing its record failed: ValueError: Out of range float values are not JSON compliant"}
    [not_drawn] = doc["drawing_errors"]
    assert not_drawn["file_name"] == "sub/drawn.png" and not_drawn["error"].startswith("drawing failed: ")
    assert "sub" in not_drawn["error"]
    assert (drawn / "ok1.png").is_file() and (drawn / "ok2.jpg").is_file()
    # each failure is logged as one warning line with its reason; the trace only at debug level (-vv)
    failed = [r for r in caplog.records if " failed on " in r.getMessage() or "cannot write the record" in r.getMessage()]
    assert failed and all(r.exc_info is None or not r.exc_info for r in failed)
    assert any("simulated failure in the classifier" in r.getMessage() for r in failed)


def test_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    """Issue 12, kind 6: --out or --draw that cannot be written is a clear error before any model or image is
    read (the model here is garbage: its error would come first if anything were read before the check)."""
    d = images_folder(tmp_path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    a_file = tmp_path / "a_file"
    a_file.write_text("a file, not a folder")

    def refused(args, *needles):
        res = CliRunner().invoke(cli, ["run", str(d), "--model", str(garbage), "--workers", "0", *args])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
        assert "garbage.pt" not in res.output and "Traceback" not in res.output
        for needle in needles:
            assert needle in res.output, res.output

    refused(["--out", str(a_file / "boxes.json")], "cannot write --out", "a_file")
    refused(["--out", str(tmp_path / "boxes.json"), "--draw", str(a_file / "drawn")], "cannot write --draw",
            "a_file")
    import detector.data.io

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(detector.data.io.tempfile, "mkstemp", read_only)
    refused(["--out", str(tmp_path / "ro" / "boxes.json")], "cannot write --out", "Permission denied")
    assert not list(tmp_path.glob("ro/*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders: the permission check needs another user")
def test_read_only_output_folder(tmp_path):
    d = images_folder(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = CliRunner().invoke(cli, ["run", str(d), "--out", str(ro / "boxes.json"), "--workers", "0"])
    finally:
        ro.chmod(0o755)
    assert res.exit_code == 1 and "cannot write --out" in res.output and "Permission denied" in res.output


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


def test_help_names_no_missing_file():
    """Issue 12, kind 8: --help pointed at a DESIGN.md that is not in the repository."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert not (root / "DESIGN.md").exists()
    import click

    def commands(group, prefix):
        yield prefix
        for name, command in getattr(group, "commands", {}).items():
            yield from commands(command, [*prefix, name]) if isinstance(command, click.Group) else [[*prefix, name]]

    seen = list(commands(cli, []))
    assert ["run"] in seen and ["train", "classifier"] in seen
    for command in seen:
        res = CliRunner().invoke(cli, [*command, "--help"])
        assert res.exit_code == 0 and "DESIGN.md" not in res.output, command
    assert "README" in CliRunner().invoke(cli, ["run", "--help"]).output


# ------------------------------------------------------------------------------------------------ a third user's trial
def tiny_multibox(path, seed=0):
    from proposals.multibox import MultiBox, MultiBoxConfig, save_multibox

    torch.manual_seed(seed)
    priors = np.array([[0.2, 0.2, 0.8, 0.8], [0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], np.float32)
    return save_multibox(path, MultiBox(MultiBoxConfig(num_priors=3, input_size=96, width=0.25), priors).eval())


def mb_args(images, out, model, mb, *extra):
    return ["run", str(images), "--out", str(out), "--model", str(model), "--proposals", "multibox", "--multibox",
            str(mb), "--threads", "1", "--score-threshold", "0", *extra]


def test_a_picture_that_cannot_be_drawn_keeps_its_detections(tmp_path, monkeypatch):
    """A drawing that fails (its file cannot be written, or drawing raises) printed a traceback and dropped the
    image's detections: now they are kept, the image is listed under drawing_errors with the reason, the job goes
    on and ends with status 0."""
    import detector.engines

    d = tmp_path / "imgs"
    for k, name in enumerate(("a.png", "b.png", "sub/c.png")):
        blocky(d / name, 100 + k, 80, seed=k)
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    (drawn / "sub").write_text("a file where the folder for sub/c.png should be")
    write_drawing = detector.engines.write_drawing

    def failing(folder, name, *args):
        if name == "b.png":
            raise RuntimeError("simulated failure in drawing")
        return write_drawing(folder, name, *args)

    monkeypatch.setattr(detector.engines, "write_drawing", failing)
    out = tmp_path / "boxes.json"
    res = CliRunner().invoke(cli, mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"),
                                          "--draw", str(drawn)))
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    doc = json.loads(out.read_text())
    assert [im["file_name"] for im in doc["images"]] == ["a.png", "b.png", "sub/c.png"] and doc["errors"] == []
    assert {d["image_id"] for d in doc["detections"]} == {1, 2, 3}
    not_drawn = {e["file_name"]: e["error"] for e in doc["drawing_errors"]}
    assert not_drawn["b.png"] == "drawing failed: RuntimeError: simulated failure in drawing"
    assert not_drawn["sub/c.png"].startswith(f"drawing failed: {drawn / 'sub' / 'c.png'}: ")
    assert sorted(not_drawn) == ["b.png", "sub/c.png"] and (drawn / "a.png").is_file()
    assert "2 images not drawn" in res.output and "not drawn sub/c.png: drawing failed: " in res.output
    assert boxes_json_merge_keeps(doc)


def boxes_json_merge_keeps(doc) -> bool:
    """The drawing errors survive `detect merge` of the shards of a job."""
    from detector.data.boxes_json import merge_outputs

    shard = {**doc, "job": {**doc["job"], "shard": {"index": 0, "count": 1}}}
    return merge_outputs([("a", shard)])["drawing_errors"] == doc["drawing_errors"]


def _interrupted_run(tmp_path, monkeypatch, args, stop_width):
    """Run ``args`` and stop it (Ctrl-C) when the classifier reaches the image ``stop_width`` pixels wide."""
    from detector.pipeline import Detector

    detect = Detector.detect

    def stopping(self, image, proposals=None):
        if image.shape[1] == stop_width:
            raise KeyboardInterrupt
        return detect(self, image, proposals)

    monkeypatch.setattr(Detector, "detect", stopping)
    res = CliRunner().invoke(cli, args)
    monkeypatch.setattr(Detector, "detect", detect)
    return res


def test_resume_draws_the_images_taken_from_the_part_file(tmp_path, monkeypatch):
    """--resume --draw drew only the images it detected itself, not those whose detections it took from the part
    file."""
    d = tmp_path / "imgs"
    widths = {"a.png": 101, "b.jpg": 102, "c.png": 103}
    for k, (name, w) in enumerate(widths.items()):
        blocky(d / name, w, 80, seed=k)
    out, drawn = tmp_path / "boxes.json", tmp_path / "drawn"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    res = _interrupted_run(tmp_path, monkeypatch, args, stop_width=102)  # a.png done, no pictures asked for
    assert res.exit_code == 130 and "stopped: 1 image done so far" in res.output, res.output
    import detector.engines

    write_drawing, shown = detector.engines.write_drawing, {}

    def recording(folder, name, image, boxes, scores, *rest):  # what each picture is drawn from, per run
        shown[(Path(folder).name, name)] = (np.array(boxes), np.array(scores))
        return write_drawing(folder, name, image, boxes, scores, *rest)

    monkeypatch.setattr(detector.engines, "write_drawing", recording)
    res = CliRunner().invoke(cli, [*args, "--resume", "--draw", str(drawn), "--draw-threshold", "0"])
    assert res.exit_code == 0, res.output
    assert "1 of 3 images already done" in res.output and "drawing 1 image from the part file" in res.output
    assert sorted(p.name for p in drawn.iterdir()) == ["a.png", "b.jpg", "c.png"]
    for name, w in widths.items():
        with Image.open(drawn / name) as pic:
            assert pic.size == (w, 80)
    # the picture drawn from the part file's detections shows boxes (the input has none of those colours there)
    assert np.any(np.asarray(Image.open(drawn / "a.png")) != np.asarray(Image.open(d / "a.png")))
    assert "drawing_errors" not in json.loads(out.read_text())
    # and it is the picture an uninterrupted run draws (user trial 27: the run drew its unrounded boxes, the resume
    # the part file's rounded ones, a box edge a pixel off)
    whole = tmp_path / "whole"
    args2 = [*args[:3], str(tmp_path / "whole.json"), *args[4:]]
    res = CliRunner().invoke(cli, [*args2, "--draw", str(whole), "--draw-threshold", "0"])
    assert res.exit_code == 0, res.output
    for name in widths:
        assert np.array_equal(np.asarray(Image.open(drawn / name)), np.asarray(Image.open(whole / name))), name
        for k in (0, 1):  # the boxes and scores drawn: those of boxes.json, in either run
            assert np.array_equal(shown[("drawn", name)][k], shown[("whole", name)][k]), name


def test_a_run_stopped_before_its_first_image_leaves_nothing_to_resume(tmp_path, monkeypatch):
    """User trial: Ctrl-C while the first image was under way left a part file holding only its header, and the
    next run (without --resume) was refused; Ctrl-C exited 130 while starting but 1 later."""
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / "boxes.json"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    res = _interrupted_run(tmp_path, monkeypatch, args, stop_width=101)
    assert res.exit_code == 130 and "stopped before the first image was done" in res.output, res.output
    assert "Aborted!" in res.output and "--resume" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "m.pt", "mb.pt"]  # no part file, no lock left
    # a part file of a run that wrote its header and nothing else (killed -9 then) does not block a fresh run
    from detector.data import boxes_json

    boxes_json.PartWriter(boxes_json.part_path(out), {"job": {}}).close()
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and len(json.loads(out.read_text())["images"]) == 2, res.output
    # SIGTERM while the models load (the lock taken, nothing run): 143 and no lock file left behind (user trial)
    from cli import run_cmd
    from cli.common import Terminated

    def terminated(*a, **k):
        raise Terminated()

    monkeypatch.setattr(run_cmd, "load_ensemble", terminated)
    res = CliRunner().invoke(cli, [*args[:2], "--out", str(tmp_path / "t.json"), *args[4:]])
    assert res.exit_code == 143 and "Terminated" in res.output, res.output
    assert not list(tmp_path.glob("t.json*"))


def test_the_multibox_file_is_recorded_and_decides_resume(tmp_path, monkeypatch):
    """boxes.json named the classifier's files but not the MultiBox network's; a resume with another MultiBox file
    is refused as one with another model is."""
    import hashlib

    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    model, mb = tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")
    other = tiny_multibox(tmp_path / "other.pt", seed=1)
    out = tmp_path / "boxes.json"
    res = _interrupted_run(tmp_path, monkeypatch, mb_args(d, out, model, mb), stop_width=102)
    assert res.exit_code != 0 and "--resume" in res.output
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, other), "--resume"])
    assert res.exit_code == 1 and "the model or settings differ" in res.output, res.output
    sha = {p: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in (mb, other)}  # named, now and then (trial)
    assert f"differ from that run's: MultiBox file: {other} (sha256 {sha[other]}…) now, {mb} (sha256 {sha[mb]}…) " \
        "in that run (delete it" in res.output, res.output
    # another image list names the counts and the image added or gone; another shard names both (user trial)
    blocky(d / "more" / "2.png", 103, 80, seed=2)
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb), "--resume"])
    assert res.exit_code == 1, res.output
    assert "the input images differ from that run's: 3 inputs now, 2 in that run; new now: more/2.png (delete it" \
        in res.output, res.output
    shutil.rmtree(d / "more")
    listed = tmp_path / "list.txt"
    listed.write_text(f"{d / '1.png'}\n")
    res = CliRunner().invoke(cli, [*mb_args(listed, out, model, mb), "--resume"])
    assert "differ from that run's: 1 input now, 2 in that run; not now: 0.png (delete" in res.output, res.output
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--shard", "0/2"), "--resume"])
    assert res.exit_code == 1 and "the shard differs from that run's: shard: 0/2 now, none in that run (delete it" \
        in res.output, res.output
    # a setting that changes what the run does is refused, named ...
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--max-proposals", "50"), "--resume"])
    assert res.exit_code == 1 and "differ from that run's: --max-proposals 50 now, 2000 in that run" in res.output, \
        res.output
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--soft-nms-sigma", "0.3"), "--resume"])
    assert res.exit_code == 1 and "differ from that run's: --soft-nms-sigma 0.3 now, 0.5 in that run" in res.output, \
        res.output
    # greedy NMS (R-CNN's; the only NMS of versions before Soft-NMS, whose jobs record no "nms") is named so
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--nms", "greedy"), "--resume"])
    assert res.exit_code == 1 and "differ from that run's: --nms greedy now, soft in that run" in res.output \
        and "--nms-iou 0.3 now, not used (--nms soft) in that run" in res.output, res.output
    # other member files are named (a --mode choosing among an ensemble's members said nothing: user trial)
    res = CliRunner().invoke(cli, [*mb_args(d, out, tiny_model(tmp_path / "m2.pt", seed=1), mb), "--resume"])
    assert res.exit_code == 1 and re.search(rf"model files: {re.escape(str(tmp_path / 'm2.pt'))} \(sha256 \w{{12}}…\) "
                                            rf"now, {re.escape(str(model))} \(sha256 \w{{12}}…\) in that run",
                                            res.output), res.output
    # trial 49: the same file named another way was listed as a difference beside a setting that differs; a file
    # changed in place (retrained to the same path) was refused naming nothing: member files compare by content
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, [*mb_args(d, out, model.name, mb, "--max-proposals", "50"), "--resume"])
    assert res.exit_code == 1 and "--max-proposals 50 now" in res.output and "model files" not in res.output, \
        res.output
    saved = model.read_bytes()
    tiny_model(model, seed=3)
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb), "--resume"])
    assert res.exit_code == 1 and re.search(rf"model files: {re.escape(str(model))} \(sha256 (\w{{12}})…\) now, "
                                            rf"{re.escape(str(model))} \(sha256 (?!\1)\w{{12}}…\) in that run",
                                            res.output), res.output
    model.write_bytes(saved)
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--proposals", "both", "--ss-resize-width", "250"),
                                   "--resume"])  # a setting left out of the job says why: not used, at its default
    assert res.exit_code == 1 and "--proposals both now, multibox in that run; --ss-mode fast now, not used " \
        "(--proposals multibox) in that run" in res.output, res.output
    assert "--ss-resize-width 250 now, not used (--proposals multibox) in that run" in res.output, res.output
    # a setting at its default names the default's value ("multibox_top the default (was 100)" read as nonsense)
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--multibox-top", "100"), "--resume"])
    assert res.exit_code == 1 and "differ from that run's: --multibox-top 100 now, 200 (the default) in that run " \
        "(delete it" in res.output, res.output
    # ... settings this run does not use (fast mode's scale in crops mode) are not: they stopped the resume (user
    # trial); selective search's with MultiBox alone are refused before any work (trial 61: ignored without a word)
    # nor are those that change nothing: --mode equal to the model's own (user trial), a fast-mode scale in crops
    # mode, even one that fast mode would refuse (--fast-max-side below the default short side)
    # and --backend naming what the default (auto) picks here
    from detector.nn.onnx import onnx_available

    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--ss-scale", "1", "--resume")])
    assert res.exit_code == 2 and "--ss-scale is a setting of selective search, which --proposals multibox does " \
        "not run" in res.output, res.output
    unused = ["--fast-short-side", "300", "--fast-max-side", "200",
              "--mode", "crops", "--backend", "onnx" if onnx_available() else "torch", "--resume"]
    res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, *unused)])
    assert res.exit_code == 0, res.output
    entry = json.loads(out.read_text())["model"]
    assert entry["multibox"] == {"file": str(mb), "sha256": hashlib.sha256(mb.read_bytes()).hexdigest()}
    assert entry["files"] == [str(model)] and entry["mode"] == "crops"
    assert "selective_search" not in entry  # not run: its settings are not recorded (user trial)
    res = CliRunner().invoke(cli, [*mb_args(d, tmp_path / "fast.json", model, mb, "--mode", "fast",
                                            "--fast-max-side", "200")])
    assert res.exit_code != 0 and "--fast-short-side 600 and --fast-max-side 200 for " in res.output  # used: checked
    assert "the long side's cap at least the short side" in res.output, res.output
    res = CliRunner().invoke(cli, run_args(d / "0.png", tmp_path / "ss.json", model))
    assert res.exit_code == 0, res.output
    entry = json.loads((tmp_path / "ss.json").read_text())["model"]
    assert "multibox" not in entry and entry["selective_search"] == {"mode": "fast", "scale": 2.0,
                                                                     "resize_width": 500}  # ss alone, as run
    assert entry["name"] == "m"  # the member file's, not its training record's


def test_resume_of_a_finished_run_has_nothing_to_do(tmp_path):
    """Issue-list item: `--resume` with no part file ran again silently. Now: the job's finished boxes.json is kept
    (a requeued batch job redoes nothing); no part file and no such output: a note, then a fresh start; another job's
    output is replaced."""
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / "boxes.json"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and "nothing to resume (boxes.json.part.jsonl does not exist): starting from the " \
        "first image" in res.output.replace(str(tmp_path) + "/", ""), res.output
    before = out.read_bytes()
    out.touch()
    mtime = out.stat().st_mtime_ns
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and "is this job's finished output" in res.output, res.output
    assert out.stat().st_mtime_ns == mtime and out.read_bytes() == before  # not rewritten
    res = CliRunner().invoke(cli, [*args, "--resume", "--max-proposals", "7"])  # another job: run and replaced
    assert res.exit_code == 0 and "is this job's finished output" not in res.output, res.output
    assert f"note: {out} is the finished output of another job: --max-proposals 7 now, 2000 in that run — it will " \
        "be replaced" in res.output, res.output  # trial 17: it was replaced without a word
    assert json.loads(out.read_text())["job"]["config_sha256"] != json.loads(before)["job"]["config_sha256"]
    # a merge of some shards alone (--allow-partial) is not the job's finished output (trial 44: kept as such)
    doc = json.loads(out.read_text())
    doc["job"]["missing_shards"] = ["2/3"]
    out.write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, [*args, "--resume", "--max-proposals", "7"])
    assert res.exit_code == 0 and "is this job's finished output" not in res.output, res.output
    assert "a merge without shard 2/3 — it will be replaced" in res.output, res.output
    assert "missing_shards" not in json.loads(out.read_text())["job"]


@pytest.mark.parametrize("fmt", ["coco", "ilsvrc"])
def test_resume_of_a_finished_coco_or_ilsvrc_output_has_nothing_to_do(tmp_path, fmt):
    """Closing note 17: `--resume` of a finished `--format coco` / `ilsvrc` output ran the whole job again, those
    formats having no place for the job. Its job record beside the output (`OUT.job.json`) now tells: the same
    job's output is kept; an output changed since (by SHA-256), or another job's, is run again; a file of the
    user's where the record goes is refused before any work, never replaced."""
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / ("res.json" if fmt == "coco" else "sub.txt")
    record = out.with_name(out.name + ".job.json")
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"), "--format", fmt)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    kept = json.loads(record.read_text())
    assert kept["images"] == 2 and kept["errors"] == [] and kept["job"]["inputs"] == 2
    assert out.name in kept["files"] and (fmt == "coco" or "sub.images.txt" in kept["files"])
    before, mtime = out.read_bytes(), out.stat().st_mtime_ns
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and "is this job's finished output" in res.output, res.output
    assert out.stat().st_mtime_ns == mtime and out.read_bytes() == before  # not rewritten
    out.write_bytes(before + b"\n")  # changed since: no longer that job's output
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and "is this job's finished output" not in res.output, res.output
    assert f"note: {out} is not the output its job record {record} describes" in res.output, res.output
    assert out.read_bytes() == before
    res = CliRunner().invoke(cli, [*args, "--resume", "--max-proposals", "7"])  # another job: run and replaced
    assert res.exit_code == 0 and "note: " in res.output and "--max-proposals 7 now, 2000 in that run" in \
        res.output, res.output
    assert json.loads(record.read_text())["job"]["config_sha256"] != kept["job"]["config_sha256"]
    mine = tmp_path / ("mine.json" if fmt == "coco" else "mine.txt")
    mine.with_name(mine.name + ".job.json").write_text('{"my": "notes"}')
    res = CliRunner().invoke(cli, [*mb_args(d, mine, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path /
                                                                                                 "mb.pt")),
                                   "--format", fmt])
    assert res.exit_code == 1 and "is a file that is not a job record of detect run" in res.output, res.output
    assert mine.with_name(mine.name + ".job.json").read_text() == '{"my": "notes"}' and not mine.exists()


def test_resume_of_a_finished_output_of_another_format_or_coco_gt_runs_again(tmp_path):
    """Trial 44: the job record named the job, not the output's form, so `--resume` with another `--format` on the
    same --out (ILSVRC text asked for, a COCO results list there), or `--format coco` with a `--coco-gt` the
    finished results were not numbered for, said "nothing to resume" and kept the wrong file (pycocotools would
    score ids of another numbering). Both now run again, with a note naming the difference."""
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 70 + k, "file_name": f"{k}.png", "width": w, "height": 80}
                                         for k, w in enumerate((101, 102))],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    out = tmp_path / "res.json"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"), "--format", "coco")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, [*args, "--coco-gt", str(gt), "--resume"])
    assert res.exit_code == 0 and "is this job's finished output" not in res.output, res.output
    assert f"no --coco-gt in that run — it will be replaced" in res.output, res.output
    record = json.loads(out.with_name(out.name + ".job.json").read_text())
    assert record["output"]["format"] == "coco" and record["output"]["coco_gt"]["file"] == str(gt)
    assert all(r["image_id"] in (70, 71) for r in json.loads(out.read_text()))
    res = CliRunner().invoke(cli, [*args, "--coco-gt", str(gt), "--resume"])  # now it is this job's output
    assert res.exit_code == 0 and "is this job's finished output" in res.output, res.output
    ilsvrc = [a if a != "coco" else "ilsvrc" for a in args]
    res = CliRunner().invoke(cli, [*ilsvrc, "--resume"])
    assert res.exit_code == 0 and "--format ilsvrc now, coco in that run" in res.output, res.output
    assert out.with_suffix(".images.txt").exists() and not out.read_text().startswith("[")  # ILSVRC text now


def test_a_json_output_over_a_coco_one_removes_its_record_and_draw_on_a_finished_job_is_noted(tmp_path):
    """Trial 46: a --format json run over a finished COCO output left the COCO job record behind (describing a file
    no longer there), and `--resume --draw DIR` of a finished output left DIR empty without a word: its pictures are
    drawn now from the finished boxes.json."""
    d = tmp_path / "imgs"
    blocky(d / "0.png", 101, 80, seed=0)
    out = tmp_path / "res.json"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    assert CliRunner().invoke(cli, [*args, "--format", "coco"]).exit_code == 0
    record = tmp_path / "res.json.job.json"
    assert record.is_file()
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and not record.exists() and "job" in json.loads(out.read_text()), res.output
    # --resume --draw of the finished boxes.json: the missing pictures drawn from its detections, the same as a
    # run with --draw draws them; of a COCO output (no sizes, names or categories kept): a note
    drawn, fresh = tmp_path / "drawn", tmp_path / "fresh"
    res = CliRunner().invoke(cli, [*args, "--resume", "--draw", str(drawn)])
    assert res.exit_code == 0 and "is this job's finished output" in res.output, res.output
    assert f"drawing 1 image of {out} whose picture is not in {drawn}" in res.output, res.output
    res = CliRunner().invoke(cli, [*mb_args(d, tmp_path / "f.json", tiny_model(tmp_path / "m.pt"),
                                            tiny_multibox(tmp_path / "mb.pt")), "--draw", str(fresh)])
    assert res.exit_code == 0, res.output
    assert (drawn / "0.png").read_bytes() == (fresh / "0.png").read_bytes()
    assert CliRunner().invoke(cli, [*args, "--format", "coco", "--out", str(tmp_path / "c.json")]).exit_code == 0
    res = CliRunner().invoke(cli, [*args, "--format", "coco", "--out", str(tmp_path / "c.json"), "--resume",
                                   "--draw", str(tmp_path / "none")])
    assert res.exit_code == 0 and f"note: --draw {tmp_path / 'none'}: nothing drawn" in res.output, res.output


def test_job_records_of_one_stem_and_of_a_linked_out_are_kept_apart(tmp_path):
    """Trial 44: `--out results.json --format coco` and `--out results.txt --format ilsvrc` shared one record
    (`results.job.json`), so each --resume ran its whole job again; an --out that is a link kept its record beside
    the link, where the part file follows the target. Records are now `OUT.job.json` beside the file written."""
    d = tmp_path / "imgs"
    blocky(d / "0.png", 101, 80, seed=0)
    model, mb = tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")
    runs = [mb_args(d, tmp_path / "results.json", model, mb, "--format", "coco"),
            mb_args(d, tmp_path / "results.txt", model, mb, "--format", "ilsvrc")]
    for args in runs:
        assert CliRunner().invoke(cli, args).exit_code == 0
    assert (tmp_path / "results.json.job.json").is_file() and (tmp_path / "results.txt.job.json").is_file()
    for args in runs:
        res = CliRunner().invoke(cli, [*args, "--resume"])
        assert res.exit_code == 0 and "is this job's finished output" in res.output, res.output
    (tmp_path / "real").mkdir()
    (tmp_path / "link.json").symlink_to(tmp_path / "real" / "res.json")
    linked = mb_args(d, tmp_path / "link.json", model, mb, "--format", "coco")
    assert CliRunner().invoke(cli, linked).exit_code == 0
    assert (tmp_path / "real" / "res.json.job.json").is_file() and not (tmp_path / "link.json.job.json").exists()
    for out in (tmp_path / "link.json", tmp_path / "real" / "res.json"):  # through the link or the target's name
        res = CliRunner().invoke(cli, [*mb_args(d, out, model, mb, "--format", "coco"), "--resume"])
        assert res.exit_code == 0 and "is this job's finished output" in res.output, res.output


def test_a_model_folder_leaves_out_a_multibox_file_beside_its_members(tmp_path, caplog):
    """Trial: `detect run --model DIR` on a folder holding member files and a `multibox.pt` (the GPU session's output
    folder) stopped on the MultiBox file; it is now left out with a warning, and --multibox may still name it."""
    from proposals.multibox import MultiBox, MultiBoxConfig, save_multibox

    d = images_folder(tmp_path)
    folder = tmp_path / "models"
    folder.mkdir()
    tiny_model(folder / "member0.pt")
    priors = np.array([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]], np.float32)
    save_multibox(folder / "multibox.pt", MultiBox(MultiBoxConfig(num_priors=2, input_size=96, width=0.25), priors),
                  train={"epochs": 0})
    out = tmp_path / "boxes.json"
    res = CliRunner().invoke(cli, ["run", str(d / "a.jpg"), "--out", str(out), "--model", str(folder), "--workers",
                                   "0", "--cache-dir", str(tmp_path / "cache"), "--proposals", "multibox",
                                   "--multibox", str(folder / "multibox.pt")])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["model"]["members"] == 1
    assert any("multibox.pt left out: a MultiBox proposal network" in r.getMessage() for r in caplog.records)


def test_multibox_top_keeps_the_best_multibox_boxes(tmp_path):
    """`detect run --multibox-top N` (the fast preset's 100): MultiBox's N best boxes alone are scored; the setting
    is part of the job's identity (--resume and `detect merge` tell runs with another N apart)."""
    d = tmp_path / "imgs"
    blocky(d / "a.png", 120, 90, seed=0)
    model, mb = tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")
    boxes = {}
    for top in (1, 3):
        out = tmp_path / f"top{top}.json"
        res = CliRunner().invoke(cli, mb_args(d, out, model, mb, "--multibox-top", str(top)))
        assert res.exit_code == 0, res.output
        doc = json.loads(out.read_text())
        boxes[top] = {tuple(x["bbox"]) for x in doc["detections"]}  # no box regression: the proposals themselves
        assert doc["job"]["settings"]["multibox_top"] == top  # the job's identity (--resume, merge) names it
    assert len(boxes[1]) == 1 and len(boxes[3]) == 3 and boxes[1] < boxes[3]


def test_a_merge_of_parts_with_other_multibox_files_or_inputs_names_them():
    """`detect merge` of parts run with different MultiBox files said only "their model or settings differ"; parts
    of different input counts did not give the counts (user trial)."""
    from detector.data.boxes_json import MergeError, merge_outputs
    from detector.engines import shown_setting

    def part(i: int, mb_sha: str, inputs: int = 4) -> dict:
        job = {"inputs": inputs, "inputs_sha256": str(inputs), "config_sha256": mb_sha,
               "shard": {"index": i, "count": 2}, "settings": {"proposals": "both"}}
        model = {"files": ["m.pt"], "multibox": {"file": f"{mb_sha}.pt", "sha256": mb_sha * 16}}
        return {"model": model, "images": [], "categories": [], "detections": [], "errors": [], "job": job}

    with pytest.raises(MergeError) as e:
        merge_outputs([("a.json", part(0, "aaaa")), ("b.json", part(1, "bbbb"))], shown=shown_setting)
    assert str(e.value) == ("b.json and a.json come from different jobs: their model or settings differ: MultiBox "
                            "file: bbbb.pt (sha256 bbbbbbbbbbbb…) in b.json, aaaa.pt (sha256 aaaaaaaaaaaa…) in "
                            "a.json")
    with pytest.raises(MergeError) as e:
        merge_outputs([("a.json", part(0, "aaaa")), ("b.json", part(1, "aaaa", inputs=5))], shown=shown_setting)
    assert str(e.value).endswith("their number of inputs differ: 5 inputs in b.json, 4 in a.json")


def test_differing_settings_name_their_value_now_and_in_that_run():
    """A resume refused for a setting at its default read "multibox_top the default (was 100)": each setting is
    now named with both values, a default by its value, one a job leaves out by why."""
    from detector.data.boxes_json import differences
    from detector.engines import shown_setting
    from detector.nn.options import option_flag

    def changed(before, now):
        return differences({"settings": before}, {"settings": now}, labels=("now", "in that run"), shown=shown_setting,
                           named=option_flag)

    assert changed({"proposals": "both", "multibox_top": 100}, {"proposals": "both"}) == \
        "--multibox-top 200 (the default) now, 100 in that run"
    assert changed({"proposals": "ss"}, {"proposals": "both", "multibox_top": 50}) == \
        "--multibox-top 50 now, not used (--proposals ss) in that run; --proposals both now, ss in that run"
    assert changed({"mode": "fast"}, {}) == "--mode the members' own now, fast in that run"
    assert changed({"ss_resize_width": 250}, {}) == "--ss-resize-width 500 (the default) now, 250 in that run"
    # not "the default": the fast preset's is 1
    assert changed({"refine": 1}, {}) == "--refine 0 (off) now, 1 in that run"
    # without named, a library caller gets the setting's recorded name
    assert differences({"settings": {"nms_iou": 0.3}}, {"settings": {"nms_iou": 0.5}}, shown=shown_setting) == \
        "nms_iou: 0.5 now, 0.3 before"


def test_a_resume_refused_for_a_forgotten_preset_says_to_add_it(tmp_path, monkeypatch):
    """Trial 15: a run with --preset fast, resumed without it, was refused with five differences and no way out;
    the refusal now ends with the preset to add, and with it the run goes on."""
    from cli.run_cmd import _preset_hint

    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / "boxes.json"
    args = ["run", str(d), "--out", str(out), "--model", str(tiny_model(tmp_path / "m.pt")), "--threads", "1",
            "--score-threshold", "0", "--workers", "0", "--cache-dir", str(tmp_path / "cache")]
    res = _interrupted_run(tmp_path, monkeypatch, [*args, "--preset", "fast"], stop_width=102)
    assert res.exit_code != 0 and "--resume" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 1 and "the model or settings differ" in res.output and res.output.rstrip().endswith(
        "(delete it to start over) — that run had --preset fast's settings: add --preset fast"), res.output
    res = CliRunner().invoke(cli, [*args, "--resume", "--preset", "fast"])
    assert res.exit_code == 0 and "resuming: 1 of 2 images already done" in res.output, res.output
    # its finished output, resumed without the preset: replaced, after a note that names the preset (trial 18)
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and "is the finished output of another job" in res.output and \
        "it will be replaced — that run had --preset fast's settings: add --preset fast" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--resume", "--shard", ""])  # an unset $SHARD: refused, not the whole job
    assert res.exit_code == 2 and "Invalid value for '--shard': takes I/N (for example 0/4), got ''" in res.output, \
        res.output
    res = CliRunner().invoke(cli, [*args, "--shard", "2/2"])  # a usage error as any bad option value (trial 40)
    assert res.exit_code == 2 and "shards count from 0: the 2 shards are 0/2 and 1/2" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--shard", "0/2", "--format", "coco"])  # status 2 too (trial 44: 1)
    assert res.exit_code == 2 and "--shard writes boxes.json parts for `detect merge`" in res.output, res.output
    # settings of another run that match no preset: no hint
    assert _preset_hint({"proposals": "both", "ss_mode": "single", "ss_resize_width": 300}, {"proposals": "ss"}) == ""
    assert _preset_hint({"proposals": "both"}, {"proposals": "ss"}) == ""  # one setting alone tells too little


def test_the_preset_hint_names_options_when_that_run_had_another_model_than_the_presets():
    """Trial 18: a run with the fast preset's settings as options and the default ensemble, resumed without them,
    was told to add --preset fast — which also swaps in the preset's own model, and was refused again for the model
    files. Then the hint names the options to add; with the preset's own model it still names the preset."""
    from cli.run_cmd import _preset_hint

    fast = {"proposals": "both", "ss_mode": "single", "ss_resize_width": 250, "multibox_top": 100, "refine": 1}
    models = {"fast": ["/m/fast/member0.pt"]}
    assert _preset_hint(fast, {"proposals": "ss"}, ["/m/fast/member0.pt"], models) == \
        " — that run had --preset fast's settings: add --preset fast"
    assert _preset_hint(fast, {"proposals": "both", "ss_mode": "single"}, ["/m/default/member0.pt"], models) == \
        (" — that run had --preset fast's settings with another model than the preset's: add --multibox-top 100 "
         "--refine 1 --ss-resize-width 250")
    # with --model now (no preset models to compare with) or an older part file without model files: the preset
    assert _preset_hint(fast, {"proposals": "ss"}, ["/m/default/member0.pt"], None).endswith("add --preset fast")
    assert _preset_hint(fast, {"proposals": "ss"}, None, models).endswith("add --preset fast")


def test_the_preset_hint_knows_the_presets_model_named_by_a_relative_path(tmp_path, monkeypatch):
    """Trial 19: a run given the fast preset's own model as ``--model detector/models/fast`` records the relative
    path; resumed without the preset, it was told it had "another model than the preset's" and to add the options
    (with the default ensemble) instead of --preset fast."""
    from cli.run_cmd import _preset_hint

    (tmp_path / "models" / "fast").mkdir(parents=True)
    (tmp_path / "models" / "fast" / "member0.pt").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    fast = {"proposals": "both", "ss_mode": "single", "ss_resize_width": 250, "multibox_top": 100, "refine": 1}
    models = {"fast": [str(tmp_path / "models" / "fast" / "member0.pt")]}
    assert _preset_hint(fast, {"proposals": "ss"}, ["models/fast/member0.pt"], models) == \
        " — that run had --preset fast's settings: add --preset fast"
    assert "another model" in _preset_hint(fast, {"proposals": "ss"}, ["models/default/member0.pt"], models)
    # the preset's options typed out and its model forgotten: the settings agree, the model does not (trial 19)
    assert _preset_hint(fast, fast, ["models/fast/member0.pt"], models) == \
        " — that run had --preset fast's model: add --preset fast"
    assert _preset_hint(fast, fast, ["models/default/member0.pt"], models) == ""
    assert _preset_hint(fast, fast, ["models/fast/member0.pt"], None) == ""  # this run has a --model: no hint
    # this run has the preset's model too (another --score-threshold refused the resume): nothing to add (trial 36)
    assert _preset_hint(fast, fast, ["models/fast/member0.pt"], models, ["models/fast/member0.pt"]) == ""


def _catches_sigterm(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")
def test_sigterm_while_starting_says_terminated_and_exits_143(tmp_path):
    """User trial: SIGTERM in the first seconds of `detect run` (torch still importing) ended it with status 143 and
    no word; now "Terminated", as once the command has started."""
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", str(tmp_path), "--out", str(tmp_path / "b.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 60
    while proc.poll() is None and not _catches_sigterm(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Terminated" in err and "Traceback" not in err, (proc.returncode, err)
    assert not (tmp_path / "b.json").exists()


def test_an_image_without_any_region_proposal_is_noted(tmp_path):
    # trial 17: a 1-pixel-thick image gave no detections and no word (selective search finds no region in it)
    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(np.full((300, 1, 3), 128, np.uint8)).save(d / "thin.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(d / "ok.png")
    res = CliRunner().invoke(cli, ["run", str(d), "--out", str(tmp_path / "b.json"), "--model",
                                   str(tiny_model(tmp_path / "m.pt")), "--workers", "0", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "note: 1 image had no region proposal, so nothing could be detected on it: thin.png (1x300)" in res.output
    assert "ok.png" not in res.output.split("note: ")[1].split("\n")[0]


def test_run_help_names_every_image_suffix_a_folder_is_searched_for():
    """Trial 49: `detect run --help` listed jpg/jpeg/png/bmp/webp while a folder is also searched for tif/tiff/gif
    (the README's list, detector.data.names.IMAGE_SUFFIXES)."""
    from detector.data.names import IMAGE_SUFFIXES

    text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    assert "/".join(s.lstrip(".") for s in IMAGE_SUFFIXES) in text, text


def test_run_says_how_many_pictures_show_no_box(tmp_path):
    """--draw draws only detections scoring at least --draw-threshold: a picture with none is a plain copy of the
    image, which looks like a drawing that failed (trial 51: 3 of 8 photos, their best detections at 0.19 to 0.30).
    The summary says how many pictures show no box, and why."""
    data = tmp_path / "data"
    for k in range(2):
        blocky(data / f"{k}.jpg", 96, 72, seed=k)
    Image.fromarray(np.full((1, 300, 3), 90, np.uint8)).save(data / "thin.png")  # no region: no detection
    model = tiny_model(tmp_path / "m.pt")
    res = CliRunner().invoke(cli, run_args(data, tmp_path / "a.json", model, "--draw", str(tmp_path / "a"),
                                           "--draw-threshold", "0"))
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "a").iterdir())) == 3
    assert ("drawings in " + str(tmp_path / "a") + " (boxes scoring at least 0, --draw-threshold); 1 of 3 pictures "
            "show no box: no detection on it scored that much (every detection is in " + str(tmp_path / "a.json")
            + ")") in res.output, res.output
    (data / "thin.png").unlink()
    res = CliRunner().invoke(cli, run_args(data, tmp_path / "b.json", model, "--draw", str(tmp_path / "b"),
                                           "--draw-threshold", "0"))
    assert res.exit_code == 0, res.output
    assert f"drawings in {tmp_path / 'b'} (boxes scoring at least 0, --draw-threshold)\n" in res.output, res.output


def test_a_draw_threshold_without_draw_is_a_usage_error(tmp_path):
    """trial 56: `detect run … --draw-threshold 0.5` without --draw ran, exit 0, and drew nothing — as --nms-iou under
    Soft-NMS or --multibox with --proposals ss would be, it is refused before any work."""
    data = tmp_path / "data"
    blocky(data / "0.jpg", 96, 72, seed=0)
    model = tiny_model(tmp_path / "m.pt")
    res = CliRunner().invoke(cli, run_args(data, tmp_path / "a.json", model, "--draw-threshold", "0.5"))
    assert res.exit_code == 2, res.output
    assert "--draw-threshold is a setting of --draw" in res.output, res.output
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "a.json.part.jsonl").exists()
    res = CliRunner().invoke(cli, run_args(data, tmp_path / "a.json", model, "--draw", str(tmp_path / "d"),
                                           "--draw-threshold", "0.5"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d" / "0.jpg").exists()
