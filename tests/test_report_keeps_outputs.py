"""Trial 69: a text report (`detect eval --json`, `detect inspect --json`, `detect proposals --json`) refused only
a binary file and replaced any text: `detect eval --json old.json` replaced a `detect run` output (the hours of a
batch job) and `--json gt.json` a COCO ground truth with a 700-byte report, where `--out` keeps both. A detector's
output and a COCO dataset are now refused; an earlier report and other text are still replaced."""

import json

import click
import pytest
from click.testing import CliRunner

from cli.common import refuse_binary_outputs
from cli.main import cli
from detector.data import boxes_json
from test_eval_formats import SAMPLES, samples_boxes_json


@pytest.mark.parametrize("fmt,looks", [("json", "a boxes.json of `detect run`"), ("coco", "a COCO results list"),
                                       ("ilsvrc", "an ILSVRC submission text")])
def test_eval_json_does_not_replace_a_detection_output(tmp_path, fmt, looks):
    pred = tmp_path / "boxes.json"
    boxes_json.write(pred, samples_boxes_json(), "json")
    kept = tmp_path / f"old.{fmt}"
    boxes_json.write(kept, samples_boxes_json(), fmt)
    before = kept.read_bytes()
    res = CliRunner().invoke(cli, ["eval", "--gt", str(SAMPLES), "--pred", str(pred), "--json", str(kept)])
    assert res.exit_code == 1 and f"--json {kept} exists and is {looks}, which this report would replace" \
        in res.output, res.output
    assert kept.read_bytes() == before


def test_a_coco_ground_truth_is_kept_and_reports_and_notes_are_replaced(tmp_path):
    gt = tmp_path / "other_gt.json"
    gt.write_text(json.dumps(json.loads(SAMPLES.read_text()), sort_keys=True))
    with pytest.raises(click.ClickException, match="is a COCO dataset"):
        refuse_binary_outputs({"--json": gt})
    pred = tmp_path / "boxes.json"
    boxes_json.write(pred, samples_boxes_json(), "json")
    report, notes = tmp_path / "report.json", tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for out in (report, report, notes):  # a report replaces its earlier self, and text that is none of the above
        res = CliRunner().invoke(cli, ["eval", "--gt", str(SAMPLES), "--pred", str(pred), "--json", str(out)])
        assert res.exit_code == 0, res.output
        assert json.loads(out.read_text())["metric"] == "ilsvrc"
    res = CliRunner().invoke(cli, ["inspect", str(SAMPLES), "--json", str(report), "--no-image-check"])
    assert res.exit_code == 0, res.output  # an eval report is no output to keep
