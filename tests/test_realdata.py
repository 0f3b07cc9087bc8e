"""Real-data checks on ../shared/data (skipped where it is absent)."""

import json

import pytest
from click.testing import CliRunner

from cli.main import cli

# (folder, images, boxes, classes) as stated in ../shared/data/README.md
README_COUNTS = [
    ("ilsvrc2014_det/val2_xml", 9917, 26782, 200),
    ("ilsvrc2014_det/val2_images_227", 180, 437, 84),
    ("pennfudan", 130, 331, 1),
    ("voc2012_subset", 100, 273, 20),
    ("coco128", 128, 939, 71),
]


@pytest.mark.realdata
@pytest.mark.parametrize("folder,images,boxes,classes", README_COUNTS)
def test_inspect_counts_match_readme(shared_data, tmp_path, folder, images, boxes, classes):
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["inspect", str(shared_data / folder), "--json", str(out), "--no-image-check"])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert (r["images"], r["boxes"], len(r["classes"])) == (images, boxes, classes)
