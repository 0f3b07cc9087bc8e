"""`detect train multibox --resume` compared its --gt / --val by path alone: an edited --gt trained on and an edited
--val's recall was compared with the earlier epochs' on the old boxes, without a word (trial 68). The README refuses
other --gt or --val; the files' content is now compared as `train classifier` compares it."""
import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from detector.nn.loop import state_path
from test_multibox import PRIORS


def _gt(path, images, shift=0):
    anns = [{"id": k + 1, "image_id": im["id"], "category_id": 1, "bbox": [10 + shift, 8, 40, 32]}
            for k, im in enumerate(images)]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))


def test_an_edited_gt_or_val_is_refused_on_resume(tmp_path):
    rng = np.random.default_rng(0)
    images = []
    for i in range(4):
        arr = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
        arr[8:40, 10:50] = (220, 220, 30)
        Image.fromarray(arr).save(tmp_path / f"{i}.png")
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": 64, "height": 64})
    gt, val = tmp_path / "gt.json", tmp_path / "val.json"
    _gt(gt, images)
    _gt(val, images[:2])
    np.savetxt(tmp_path / "priors.txt", PRIORS)
    out = tmp_path / "mb.pt"
    args = ["train", "multibox", "--gt", str(gt), "--val", str(val), "--out", str(out), "--priors",
            str(tmp_path / "priors.txt"), "--input-size", "96", "--width", "0.25", "--batch-size", "2", "--val-top", "2"]
    res = CliRunner().invoke(cli, [*args, "--epochs", "1"])
    assert res.exit_code == 0, res.output
    state = state_path(out).read_bytes()
    _gt(val, images[1:3])  # the same path, other images
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"cannot resume {out}: it was started with other data (--val {val} now, {val} in that run: the same files, " \
        "edited since; other images, boxes or classes; only --epochs may change)" in res.output, res.output
    _gt(val, images[:2])
    _gt(gt, images, shift=3)  # other boxes
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert res.exit_code == 1 and f"(--gt {gt} now, {gt} in that run: the same files, edited since" in res.output, \
        res.output
    assert state_path(out).read_bytes() == state  # nothing trained
    _gt(gt, images)  # as it was: goes on
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert res.exit_code == 0 and "epoch   2" in res.output, res.output
