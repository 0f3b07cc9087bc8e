"""`detect train priors` refuses, before any work, an --out that would replace its own ground truth or a file that
is no priors file, and a -k larger than the boxes it has, with an error rather than a traceback (trial 22: --out
naming the --gt replaced the annotations; -k 50 of 12 boxes raised ValueError)."""
import json

import numpy as np
from click.testing import CliRunner

from cli.main import cli


def _gt(tmp_path, n=6):
    images = [{"id": i + 1, "file_name": f"{i}.jpg", "width": 100, "height": 80} for i in range(n)]
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [5 + i, 5, 30 + 5 * i, 40]} for i in range(n)]
    p = tmp_path / "gt.json"
    p.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    return p


def test_out_naming_the_ground_truth_is_refused(tmp_path):
    gt = _gt(tmp_path)
    before = gt.read_bytes()
    res = CliRunner().invoke(cli, ["train", "priors", "--gt", str(gt), "-k", "2", "--out", str(gt)])
    assert res.exit_code == 1 and "is a file this command reads" in res.output
    assert gt.read_bytes() == before


def test_out_that_is_no_priors_file_is_refused(tmp_path):
    gt, notes = _gt(tmp_path), tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    res = CliRunner().invoke(cli, ["train", "priors", "--gt", str(gt), "-k", "2", "--out", str(notes)])
    assert res.exit_code == 1 and "not a priors file" in res.output and notes.read_text() == "my notes\n"


def test_too_few_boxes_is_an_error(tmp_path):
    gt = _gt(tmp_path)
    res = CliRunner().invoke(cli, ["train", "priors", "--gt", str(gt), "-k", "7", "--out", str(tmp_path / "p.txt")])
    assert res.exit_code == 1 and "-k 7 priors need at least 7 boxes" in res.output
    assert not isinstance(res.exception, ValueError) and not (tmp_path / "p.txt").exists()


def test_priors_file_written_and_replaced(tmp_path):
    gt, out = _gt(tmp_path), tmp_path / "p.txt"
    for _ in range(2):  # the second run replaces its own earlier output
        res = CliRunner().invoke(cli, ["train", "priors", "--gt", str(gt), "-k", "3", "--out", str(out)])
        assert res.exit_code == 0, res.output
    assert out.read_text().startswith("# MultiBox priors: k-means (k=3, seed 0) of 6 boxes")
    p = np.loadtxt(out, ndmin=2)
    assert p.shape == (3, 4) and (p >= 0).all() and (p <= 1).all()


def test_multibox_out_naming_its_priors_names_the_option(tmp_path):
    gt, priors = _gt(tmp_path), tmp_path / "p.txt"
    assert CliRunner().invoke(cli, ["train", "priors", "--gt", str(gt), "-k", "3", "--out", str(priors)]).exit_code == 0
    res = CliRunner().invoke(cli, ["train", "multibox", "--gt", str(gt), "--priors", str(priors), "--out", str(priors),
                                   "--input-size", "96", "--width", "0.25", "--epochs", "1"])
    assert res.exit_code == 1 and "(--priors), an input of this run" in res.output, res.output
