"""User trial 54: a YOLO dataset whose label files are all empty (images without objects) was refused with
"the training data has no boxes" alone: no file named, nothing on what was read. The refusal names the data and
how many images it read."""

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import cli


def test_training_data_without_boxes_is_refused_naming_it(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    for name in ("a", "b"):
        arr = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / "images" / "train" / f"{name}.jpg")
        (tmp_path / "labels" / "train" / f"{name}.txt").write_text("")
    data = tmp_path / "data.yaml"
    data.write_text("path: .\ntrain: images/train\nval: images/train\nnames: [cat]\n")
    out = tmp_path / "new" / "m.pt"
    res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(data), "--out", str(out), "--epochs", "1",
                                   "--workers", "0"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"the training data has no boxes: {data}: 2 images, none with a box" in res.output, res.output
    assert not (tmp_path / "new").exists()
