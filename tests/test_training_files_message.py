"""The last line of a training command names every file it wrote beside --out, in the same words for each kind of
training. `detect train multibox` said "wrote OUT, log LOG" — not its <stem>.last.ckpt nor the <stem>.state.ckpt
that --resume reads —, while `train classifier` and `distill` named the last checkpoint (not the state); and all
three called --out "(best)" also when no epoch was validated, where it is the last epoch as <stem>.last.ckpt is."""

import numpy as np
from click.testing import CliRunner

from cli.main import cli
from helpers import write_images_gt
from test_multibox import PRIORS
from test_train import synthetic_images


def said(out, validated: bool) -> str:
    stem = out.with_suffix("")
    return (f"wrote {out} ({'best epoch by validation' if validated else 'last epoch: none validated'}), "
            f"{stem}.last.ckpt (last epoch), {stem}.state.ckpt (for --resume), log {stem}.log.jsonl")


def test_classifier_and_multibox_name_the_same_files(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    base = ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--epochs", "1"]
    for out, extra, validated in ((tmp_path / "a.pt", ["--val", str(gt)], True), (tmp_path / "b.pt", [], False)):
        res = CliRunner().invoke(cli, [*base, "--out", str(out), *extra])
        assert res.exit_code == 0 and said(out, validated) in res.output, res.output

    np.savetxt(tmp_path / "priors.txt", PRIORS)
    base = ["train", "multibox", "--gt", str(gt), "--priors", str(tmp_path / "priors.txt"), "--input-size", "96",
            "--width", "0.125", "--epochs", "1", "--batch-size", "3"]
    for out, extra, validated in ((tmp_path / "m.pt", ["--val", str(gt), "--val-top", "2"], True),
                                  (tmp_path / "n.pt", [], False)):
        res = CliRunner().invoke(cli, [*base, "--out", str(out), *extra])
        assert res.exit_code == 0 and said(out, validated) in res.output, res.output


def test_distill_names_the_same_files(tmp_path, monkeypatch):
    import cli.distill_cmd as dc
    from test_distill import TinyTeacher, _photos

    monkeypatch.setattr(dc, "load_teacher", lambda path=None: TinyTeacher().eval())
    _photos(tmp_path / "photos", 4)
    _photos(tmp_path / "val", 2, seed=1)
    base = ["train", "distill", "--photos", str(tmp_path / "photos"), "--width", "0.125", "--input-size", "96",
            "--epochs", "1", "--batch-size", "4", "--workers", "0", "--teacher-backend", "torch"]
    for out, extra, validated in ((tmp_path / "d.pt", ["--val-photos", str(tmp_path / "val")], True),
                                  (tmp_path / "e.pt", [], False)):
        res = CliRunner().invoke(cli, [*base, "--out", str(out), *extra])
        assert res.exit_code == 0 and said(out, validated) in res.output, res.output
