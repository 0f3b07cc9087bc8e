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


def test_a_class_the_data_names_without_a_box_is_noted(tmp_path):
    """trial 54: data.yaml named 4 classes, one without a box; training said "3 classes" and nothing of the fourth."""
    from helpers import write_images_gt
    from test_train import synthetic_images

    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images, categories=("person", "dog", "ghost class"))
    res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--width", "0.25",
                                   "--batch-size", "16", "--workers", "0", "--cache-dir", str(tmp_path / "cache"),
                                   "--epochs", "1", "--class-map", "none", "--out", str(tmp_path / "m.pt")])
    assert res.exit_code == 0, res.output
    assert "note: 1 class of the training data ('ghost class') has no box on an image found: not learnt" in res.output
