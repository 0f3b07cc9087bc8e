"""Trial 61: `detect run --classes dog --format coco --coco-gt GT` where GT has no category of that class ran the
whole job, then wrote an empty results list (every detection "left out: its class is not in GT"). The class is now
refused before any image is read, naming it and the categories GT has; `detect merge --coco-gt` of parts run with
such --classes likewise."""

import json

from click.testing import CliRunner

from cli.main import cli
from test_cli_run import blocky, mb_args, tiny_model, tiny_multibox


def _setup(tmp_path):
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    gt = tmp_path / "gt.json"  # the model's classes are person and dog; this ground truth has people alone
    gt.write_text(json.dumps({"images": [{"id": 70 + k, "file_name": f"{k}.png", "width": w, "height": 80}
                                         for k, w in enumerate((101, 102))],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    return d, gt, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")


def test_a_class_the_coco_gt_lacks_is_refused_before_any_work(tmp_path):
    d, gt, model, mb = _setup(tmp_path)
    out = tmp_path / "res.json"
    args = mb_args(d, out, model, mb, "--format", "coco", "--coco-gt", str(gt))
    for classes in ("dog", "person,dog"):
        res = CliRunner().invoke(cli, [*args, "--classes", classes])
        assert res.exit_code == 2, res.output
        assert f"--classes dog: the --coco-gt file {gt} has no category of this class (its categories: person), so " \
            "the COCO results, which take its category ids, could carry none of its detections: drop it from " \
            "--classes, or give the ground truth of that class" in res.output, res.output
        assert "images/s" not in res.output and not out.exists() and not list(tmp_path.glob("res.json.*"))
    res = CliRunner().invoke(cli, [*args, "--classes", "person"])  # a class it has: as before
    assert res.exit_code == 0, res.output
    assert {r["category_id"] for r in json.loads(out.read_text())} == {1}


def test_a_merge_of_parts_run_with_such_classes_is_refused(tmp_path):
    d, gt, model, mb = _setup(tmp_path)
    parts = []
    for i in range(2):
        parts.append(tmp_path / f"p{i}.json")
        res = CliRunner().invoke(cli, mb_args(d, parts[-1], model, mb, "--classes", "dog", "--shard", f"{i}/2"))
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(tmp_path / "m.json"), "--format", "coco",
                                   "--coco-gt", str(gt)])
    assert res.exit_code == 1, res.output
    assert f"the parts were run with --classes dog: the --coco-gt file {gt} has no category of this class" \
        in res.output, res.output
    assert not (tmp_path / "m.json").exists()
