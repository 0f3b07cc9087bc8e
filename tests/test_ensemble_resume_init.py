"""User trial 59: `detect train ensemble --resume` with more --members and another --init (or none) trained the new
members from that file beside members that started from the first one, without a word — an ensemble whose members
are documented to differ only in seed and sampling order. It is refused before any member trains, naming both starts;
the same weights under another name are accepted."""

from pathlib import Path

import torch
from click.testing import CliRunner

from cli.main import cli

from helpers import write_images_gt
from test_train import synthetic_images


def _init(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)["train"]["init"]


def test_new_members_of_a_resumed_ensemble_start_from_the_same_init(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    base = ["--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16", "--workers", "0",
            "--cache-dir", str(tmp_path / "cache"), "--val-every", "0", "--epochs", "1"]
    first = tmp_path / "first.pt"
    res = CliRunner().invoke(cli, ["train", "classifier", *base, "--out", str(first)])
    assert res.exit_code == 0, res.output
    other = tmp_path / "other.pt"
    res = CliRunner().invoke(cli, ["train", "classifier", *base, "--out", str(other), "--seed", "5"])
    assert res.exit_code == 0, res.output
    ens = tmp_path / "ens"
    res = CliRunner().invoke(cli, ["train", "ensemble", *base, "--members", "1", "--out", str(ens), "--init",
                                   str(first)])
    assert res.exit_code == 0 and _init(ens / "member0.pt") == str(first), res.output
    before = sorted(p.name for p in ens.iterdir())
    for init, now in ((["--init", str(other)], f"from --init {other}"), ([], "from scratch (no --init)")):
        res = CliRunner().invoke(cli, ["train", "ensemble", *base, "--members", "2", "--out", str(ens), "--resume",
                                       *init])
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert f"member1.pt would start {now}, while member0.pt started from --init {first}" in res.output, res.output
        assert f"give --init {first}, or delete every member's state file" in res.output, res.output
        assert sorted(p.name for p in ens.iterdir()) == before  # nothing trained
    copy = tmp_path / "copy.pt"  # the same weights under another name: accepted
    copy.write_bytes(first.read_bytes())
    res = CliRunner().invoke(cli, ["train", "ensemble", *base, "--members", "2", "--out", str(ens), "--resume",
                                   "--init", str(copy)])
    assert res.exit_code == 0 and (ens / "member1.pt").is_file(), res.output
    assert _init(ens / "member1.pt") == str(copy) and _init(ens / "member0.pt") == str(first)
