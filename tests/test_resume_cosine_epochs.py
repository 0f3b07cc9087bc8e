"""User trial 54: a MultiBox run (cosine schedule) stopped at epoch 37 of 150 and resumed with --epochs 40 went on
at a learning rate of 0.0001 where it had stopped at 0.017, without a word: another --epochs re-spreads the cosine
decay. Resuming a cosine-schedule run with other --epochs warns; the same --epochs, or the step schedule, does
not."""

import logging
from pathlib import Path

import torch
from click.testing import CliRunner

from cli.main import cli

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_resuming_a_cosine_run_with_other_epochs_warns(tmp_path, caplog):
    gt, out = str(SAMPLES / "annotations.json"), tmp_path / "mb.pt"
    priors = tmp_path / "priors.txt"
    priors.write_text("\n".join(f"0.{k} 0.{k} 0.9 0.9" for k in range(8)) + "\n")
    base = ["train", "multibox", "--gt", gt, "--out", str(out), "--input-size", "96", "--width", "0.25",
            "--device", "cpu", "--priors", str(priors)]
    res = CliRunner().invoke(cli, [*base, "--epochs", "1"])
    assert res.exit_code == 0, res.output
    sp = out.with_suffix(".state.ckpt")
    ck = torch.load(sp, weights_only=True)
    torch.save({**ck, "epochs": 6}, sp)  # as if stopped after epoch 1 of 6
    warned = "resumed with --epochs 2, the run had 6: its cosine learning rate now decays to 0 over 2 epochs"
    with caplog.at_level(logging.WARNING):
        res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume"])
    assert res.exit_code == 0 and "epoch   2" in res.output, res.output
    assert any(warned in r.getMessage() and "jumps down" in r.getMessage() for r in caplog.records), caplog.records
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # raising --epochs of a finished run: the rate goes up again
        res = CliRunner().invoke(cli, [*base, "--epochs", "3", "--resume"])
    assert res.exit_code == 0 and "epoch   3" in res.output, res.output
    assert any("resumed with --epochs 3, the run had 2" in r.getMessage() and "jumps up" in r.getMessage()
               for r in caplog.records), caplog.records
    ck = torch.load(sp, weights_only=True)
    torch.save({**ck, "epochs": 4}, sp)  # the same --epochs as the state's: exact, no warning
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        res = CliRunner().invoke(cli, [*base, "--epochs", "4", "--resume"])
    assert res.exit_code == 0 and "epoch   4" in res.output, res.output
    assert not any("cosine learning rate" in r.getMessage() for r in caplog.records), caplog.records
