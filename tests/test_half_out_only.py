"""Trial 64: `train classifier --half` wrote `<stem>.last.ckpt` as float16 too, where `train_multibox(half=True)`
halved --out alone. One rule (detector.nn.loop.stored_half) for every training: --half stores --out as float16 (its
help: half the file size); the last epoch's checkpoint keeps float32, as the resume state does, and a resumed run
ends as an uninterrupted one. The two files of one model stay refused as two ensemble members."""

import pytest
import torch
from click.testing import CliRunner

from cli.main import cli
from detector.classifier import load_ensemble
from detector.nn.checkpoint import CheckpointError
from detector.nn.loop import last_path, state_path, stored_half
from helpers import write_images_gt
from test_train import synthetic_images


def _dtypes(path, key="state_dict"):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return {t.dtype for t in ckpt[key].values() if t.is_floating_point()}


def test_half_stores_out_alone(tmp_path):
    assert stored_half("m.pt", "m.pt", True) and not stored_half("m.last.ckpt", "m.pt", True)
    assert not stored_half("m.pt", "m.pt", False)
    images = synthetic_images(tmp_path, n=3)
    write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "m.pt"
    args = ["train", "classifier", "--gt", str(tmp_path / "gt.json"), "--out", str(out), "--input-size", "96",
            "--width", "0.25", "--batch-size", "16", "--workers", "0", "--cache-dir", str(tmp_path / "cache"),
            "--val-every", "0", "--half"]
    res = CliRunner().invoke(cli, [*args, "--epochs", "1"])
    assert res.exit_code == 0, res.output
    assert _dtypes(out) == {torch.float16}
    assert _dtypes(last_path(out)) == {torch.float32}  # was float16
    state = torch.load(state_path(out), map_location="cpu", weights_only=True)
    assert {t.dtype for t in state["model"].values() if t.is_floating_point()} == {torch.float32}
    with pytest.raises(CheckpointError, match="holds the same weights and settings"):  # float16 and float32 files
        load_ensemble([out, last_path(out)])  # of one model: still one member given twice
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])  # goes on from the float32 state
    assert res.exit_code == 0 and "epoch   2" in res.output, res.output
    assert _dtypes(out) == {torch.float16} and _dtypes(last_path(out)) == {torch.float32}
