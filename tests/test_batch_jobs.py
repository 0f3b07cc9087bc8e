"""Batch jobs (issue 7): crash-safe streaming output and --resume, --shard I/N with `detect merge`, the Ray
engine."""

import importlib.util
import json
import os
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
from detector.data.parts import MergeError, PartWriter, Shard, assemble, merge_outputs, part_path, read_part

from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.vocab import ilsvrc_categories

ROOT = Path(__file__).resolve().parents[1]


def make_images(folder: Path, n: int, size=(120, 160)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    h, w = size
    for i in range(n):
        arr = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        arr[y : y + h // 3, x : x + w // 3] = rng.integers(120, 255, 3)
        Image.fromarray(arr).save(folder / f"img{i:03d}.png")
    (folder / "img005_broken.jpg").write_bytes(b"not an image at all")
    return folder


def graded_model(path):
    """A tiny random member whose scores spread out (no ties at 1.0, so detection order is well defined)."""
    torch.manual_seed(0)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25)
    model = build_classifier(spec)
    with torch.no_grad():
        model.backbone.fc.weight.mul_(0.05)
        model.backbone.fc.bias[1] = 1.0
    return save_member(path, model.eval(), spec, [ilsvrc_categories()[123], ilsvrc_categories()[57]])


def run_args(images, out, model, *extra):
    return ["run", str(images), "--out", str(out), "--model", str(model), "--workers", "0", "--no-cache",
            "--max-proposals", "60", "--threads", "1", *extra]


def invoke(args):
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("jobs")
    images = make_images(d / "imgs", 10)
    model = graded_model(d / "m.pt")
    full = d / "full.json"
    invoke(run_args(images, full, model))
    return d, images, model, json.loads(full.read_text())


def test_shard_bounds_cover_once():
    for total in (0, 1, 2, 7, 10, 101):
        for count in (1, 2, 3, 8):
            covered = []
            for i in range(count):
                a, b = Shard(i, count).bounds(total)
                covered.extend(range(a, b))
            assert covered == list(range(total))
    assert Shard.parse("2/3") == Shard(2, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_part_file_torn_tail_and_append(tmp_path):
    p = tmp_path / "o.json.part.jsonl"
    header = {"job": {"inputs": 3}, "model": {}, "categories": []}
    with PartWriter(p, header) as w:
        w.write({"index": 1, "image": {"id": 2}, "detections": [{"image_id": 2}]})
        w.write({"index": 0, "error": {"file_name": "a", "error": "bad"}})
    with open(p, "a") as f:
        f.write('{"index": 2, "ima')  # killed mid-line
    h, recs = read_part(p)
    assert h == header and sorted(recs) == [0, 1]
    with PartWriter(p, header) as w:  # appending cuts the torn line first
        w.write({"index": 2, "image": {"id": 3}, "detections": []})
    h, recs = read_part(p)
    assert sorted(recs) == [0, 1, 2]
    doc = assemble(h, recs)
    assert [im["id"] for im in doc["images"]] == [2, 3] and doc["errors"] == [{"file_name": "a", "error": "bad"}]


def test_kill_midway_then_resume_equals_uninterrupted(setup, tmp_path):
    d, _, model, full = setup
    images = make_images(tmp_path / "many", 16, size=(90, 120))
    ref = tmp_path / "ref.json"
    invoke(run_args(images, ref, model))
    out = tmp_path / "killed.json"
    part = part_path(out)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", *run_args(images, out, model)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if part.exists() and part.read_bytes().count(b"\n") >= 5:  # header + at least 4 images
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "the run finished before it could be killed"
    _, done = read_part(part)
    assert 4 <= len(done) < 17
    res = CliRunner().invoke(cli, run_args(images, out, model))  # no --resume: refuses to clobber the part file
    assert res.exit_code == 1 and "--resume" in res.output and part.exists()
    res = CliRunner().invoke(cli, run_args(images, out, model, "--resume", "--score-threshold", "0.2"))
    assert res.exit_code == 1 and "settings differ" in res.output  # another job's part file is not mixed in
    res = invoke(run_args(images, out, model, "--resume"))
    assert f"{len(done)} of 17 images already done" in res.output
    assert json.loads(out.read_text()) == json.loads(ref.read_text())
    assert not part.exists()


def test_shards_cover_once_and_merge_to_single_run(setup, tmp_path):
    d, images, model, full = setup
    parts = []
    for i in range(3):
        p = tmp_path / f"shard{i}.json"
        invoke(run_args(images, p, model, "--shard", f"{i}/3"))
        parts.append(p)
    docs = [json.loads(p.read_text()) for p in parts]
    names = [x["file_name"] for doc in docs for x in doc["images"] + doc["errors"]]
    assert sorted(names) == sorted(x["file_name"] for x in full["images"] + full["errors"])
    assert len(names) == len(set(names)) == 11
    assert [doc["job"]["shard"] for doc in docs] == [{"index": i, "count": 3} for i in range(3)]
    merged = tmp_path / "merged.json"
    invoke(["merge", *map(str, reversed(parts)), "--out", str(merged)])
    assert json.loads(merged.read_text()) == full

    def refused(args, message):
        res = CliRunner().invoke(cli, ["merge", *map(str, args), "--out", str(tmp_path / "x.json")])
        assert res.exit_code == 1 and message in res.output, res.output
        assert not (tmp_path / "x.json").exists()

    refused(parts[:2], "2/3 missing")
    refused([parts[0], parts[0], parts[1]], "both shard 0/3")
    refused([parts[0], d / "full.json"], "not a shard output")
    other = tmp_path / "other.json"
    invoke(run_args(images, other, model, "--shard", "1/3", "--nms-iou", "0.5"))
    refused([parts[0], other, parts[2]], "different jobs")
    two = tmp_path / "two.json"
    invoke(run_args(images, two, model, "--shard", "1/2"))
    refused([parts[0], two], "different splits")
    # overlapping images: a shard doctored to claim another's image
    bad = json.loads(parts[1].read_text())
    bad["images"].append(docs[0]["images"][0])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    refused([parts[0], tmp_path / "bad.json", parts[2]], "overlap")
    invoke(["merge", str(parts[0]), str(parts[2]), "--out", str(tmp_path / "p.json"), "--allow-partial"])
    assert json.loads((tmp_path / "p.json").read_text())["job"]["missing_shards"] == ["1/3"]


def test_merge_outputs_rejects_mismatched_categories(setup):
    _, _, _, full = setup
    a = {**full, "job": {**full["job"], "shard": {"index": 0, "count": 2}}}
    b = {**a, "job": {**a["job"], "shard": {"index": 1, "count": 2}}, "categories": [], "images": [],
         "errors": [], "detections": []}
    with pytest.raises(MergeError, match="different categories"):
        merge_outputs([("a", a), ("b", b)])


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed (pip install '.[ray]')")
def test_ray_engine_equals_local(setup, tmp_path):
    d, images, model, full = setup
    out = tmp_path / "ray.json"
    res = invoke(run_args(images, out, model, "--engine", "ray", "--ray-actors", "2"))
    assert "engine ray" in res.output
    doc = json.loads(out.read_text())
    assert doc["model"].pop("device") in ("auto", "cpu")
    full = json.loads(json.dumps(full))
    full["model"].pop("device")
    assert doc == full
