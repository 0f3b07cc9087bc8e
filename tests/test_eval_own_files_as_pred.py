"""`detect eval --pred` given another file that detect writes says what the file is and which to give instead
(trial 63: a `--format coco` output's job record and a `detect proposals --json` report each read "not a boxes.json
file: expected a list under 'images'")."""
import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from detector.data import boxes_json
from test_eval_formats import SAMPLES, samples_boxes_json


def _eval(pred, *extra):
    return CliRunner().invoke(cli, ["eval", "--gt", str(SAMPLES), "--pred", str(pred), *extra])


def test_a_job_record_names_its_output(tmp_path):
    doc = samples_boxes_json()
    for fmt, name in (("coco", "results.json"), ("ilsvrc", "sub.txt")):
        out = tmp_path / name
        boxes_json.write(out, doc, fmt)
        record = boxes_json.job_record_path(out)
        res = _eval(record)
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert (f"Error: {record}: not a boxes.json file: it is the job record of {out} (`detect run --format {fmt}` "
                f"writes it beside its output): give {out} itself") in res.output, res.output
        assert "expected a list" not in res.output
    assert _eval(tmp_path / "results.json").exit_code == 0  # the file it names is the one to give


def test_the_reports_of_detect_proposals_and_detect_eval_are_named(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    res = CliRunner().invoke(cli, ["proposals", str(tmp_path / "a.png"), "--method", "ss", "--ss-mode", "single",
                                   "--ss-resize-width", "80", "--workers", "0", "--no-cache",
                                   "--out", str(tmp_path / "p.json"), "--json", str(tmp_path / "recall.json")])
    assert res.exit_code == 0, res.output
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(samples_boxes_json()))
    assert _eval(boxes, "--json", str(tmp_path / "eval.json")).exit_code == 0
    for name, said in (("recall.json", "it is the report of `detect proposals --json` (how many proposals, their "
                                       "recall), not detections: give the output of `detect run`"),
                       ("eval.json", "it is the report of `detect eval --json` (APs), not detections: give the output "
                                     "of `detect run`"),
                       ("p.json", "it is proposals of `detect proposals` (boxes per image to classify), not "
                                  "detections")):
        res = _eval(tmp_path / name)
        assert res.exit_code == 1, res.output
        assert f"Error: {tmp_path / name}: not a boxes.json file: {said}" in res.output, res.output


def test_our_own_files_given_as_ground_truth_are_named_too(tmp_path):
    """fix63 left it: a job record or an eval report given as --gt read "not a COCO instances file: expected an
    object with 'images' and 'categories' lists, got dict with keys […]"; the same one place tells them."""
    doc = samples_boxes_json()
    out = tmp_path / "results.json"
    boxes_json.write(out, doc, "coco")
    record = boxes_json.job_record_path(out)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(doc))
    assert _eval(boxes, "--json", str(tmp_path / "eval.json")).exit_code == 0
    for gt, said in ((record, f"it is the job record of {out} (`detect run --format coco` writes it beside its "
                              "output), not ground truth"),
                     (tmp_path / "eval.json", "it is the report of `detect eval --json` (APs), not ground truth")):
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(boxes)])
        assert res.exit_code != 0 and "Traceback" not in res.output, res.output
        assert f"not a COCO instances file: {said}" in res.output and "got dict" not in res.output, res.output
