"""Behaviour unchanged (issue 13): `detect run` on the sample images with the bundled models writes the detections
recorded in ``tests/data/samples_expected.json`` (selective search alone, the paper's selective search + MultiBox,
the fast preset and the fast-mode member alone), with the same job identity (``config_sha256``: the model files and the settings that decide the
detections). Issue 13 passed this against the detections of the code before it (commit 6fc9dcd); issues 14 and 15
bundled new models and re-recorded the file with ``tests/data/record_samples.py``."""

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = json.loads((ROOT / "tests" / "data" / "samples_expected.json").read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("run", sorted(EXPECTED["runs"]))
def test_samples_give_the_detections_of_before(tmp_path, run):
    changed = [p for p, digest in EXPECTED["models"].items() if _sha256(ROOT / p) != digest]
    if changed:
        pytest.skip(f"the bundled {', '.join(changed)} changed since the expectation was recorded: run "
                    "tests/data/record_samples.py")
    want = EXPECTED["runs"][run]
    out = tmp_path / "boxes.json"
    res = CliRunner().invoke(cli, ["run", str(ROOT / "samples" / "images"), "--out", str(out), "--no-cache",
                                   *want["args"]])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["job"]["config_sha256"] == want["config_sha256"]
    assert [[im["file_name"], im["width"], im["height"]] for im in doc["images"]] == want["images"]
    assert doc["errors"] == want["errors"]
    got = [[d["image_id"], d["category_id"], *d["bbox"], d["score"]] for d in doc["detections"]]
    assert len(got) == len(want["detections"])
    for g, w in zip(got, want["detections"]):
        assert g[:2] == w[:2], (g, w)
        assert g[2:6] == pytest.approx(w[2:6], abs=0.011), (g, w)  # one unit of the file's rounding (0.01 px)
        assert g[6] == pytest.approx(w[6], abs=2e-5), (g, w)
