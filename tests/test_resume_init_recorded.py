"""User trial 54: a run resumed with another --init (noted as "not used") recorded that file as the model's
``init``, so the model named as its start weights it never came from. A resumed run keeps the ``init`` it was
started with — a classifier, an ensemble member and a MultiBox network alike."""

from pathlib import Path

import torch
from click.testing import CliRunner

from cli.main import cli
from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.vocab import ilsvrc_categories

from helpers import write_images_gt
from test_train import synthetic_images

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _init(out: Path) -> object:
    return torch.load(out, map_location="cpu", weights_only=True)["train"]["init"]


def test_a_resumed_classifier_records_the_init_it_was_started_with(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    base = ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0"]
    first = tmp_path / "first.pt"
    res = CliRunner().invoke(cli, [*base, "--out", str(first), "--epochs", "1"])
    assert res.exit_code == 0, res.output
    other = tmp_path / "other.pt"
    other.write_bytes(first.read_bytes())
    out = tmp_path / "m.pt"
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--epochs", "1", "--init", str(first)])
    assert res.exit_code == 0 and _init(out) == str(first), res.output
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--epochs", "2", "--resume", "--init", str(other)])
    assert res.exit_code == 0 and f"note: --init {other} is not used" in res.output, res.output
    for f in (out, out.with_suffix(".last.ckpt")):
        assert _init(f) == str(first), f  # it recorded other.pt
    # a fresh run (no --resume) records its own --init
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--epochs", "1", "--init", str(other)])
    assert res.exit_code == 0 and _init(out) == str(other), res.output


def test_a_resumed_multibox_run_records_the_init_it_was_started_with(tmp_path):
    gt, out = str(SAMPLES / "annotations.json"), tmp_path / "mb.pt"
    priors = tmp_path / "priors.txt"
    priors.write_text("\n".join(f"0.{k} 0.{k} 0.9 0.9" for k in range(8)) + "\n")
    spec = ClassifierSpec(arch="paper-bn", input_size=96, width=0.25)
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    for f in (a, b):
        save_member(f, build_classifier(spec), spec, ilsvrc_categories())
    base = ["train", "multibox", "--gt", gt, "--out", str(out), "--input-size", "96", "--width", "0.25",
            "--device", "cpu", "--priors", str(priors)]
    res = CliRunner().invoke(cli, [*base, "--epochs", "1", "--init", str(a)])
    assert res.exit_code == 0 and _init(out) == str(a), res.output
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", "--init", str(b)])
    assert res.exit_code == 0 and "epoch   2" in res.output, res.output
    for f in (out, out.with_suffix(".last.ckpt")):
        assert _init(f) == str(a), f


def test_a_resumed_classifier_does_not_read_the_init_it_says_is_not_used(tmp_path):
    """User trial 54 (trial 53 for MultiBox): `--resume --init X` said "--init X is not used", then read X and
    refused the run — a text file, or a model of another width than the one given now (the message blamed --init,
    not the run's own settings)."""
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    base = ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--batch-size", "16",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0"]
    out = tmp_path / "m.pt"
    res = CliRunner().invoke(cli, [*base, "--width", "0.25", "--out", str(out), "--epochs", "1"])
    assert res.exit_code == 0, res.output
    junk = tmp_path / "junk.txt"
    junk.write_text("not a model\n")
    res = CliRunner().invoke(cli, [*base, "--width", "0.25", "--out", str(out), "--epochs", "2", "--resume",
                                   "--init", str(junk)])
    assert res.exit_code == 0 and "epoch   2" in res.output and "cannot read weights" not in res.output, res.output
    assert f"note: --init {junk} is not used" in res.output
    # another width: refused as the run's own setting, not as the --init's (a model of the run's width)
    init = tmp_path / "init.pt"
    init.write_bytes(out.read_bytes())
    res = CliRunner().invoke(cli, [*base, "--width", "0.5", "--out", str(out), "--epochs", "3", "--resume",
                                   "--init", str(init)])
    assert res.exit_code == 1 and "other settings (--width 0.5 now, 0.25 in that run)" in res.output, res.output
    assert "cannot initialise" not in res.output
    # a fresh run still checks its --init before anything else
    res = CliRunner().invoke(cli, [*base, "--width", "0.25", "--out", str(tmp_path / "n.pt"), "--epochs", "1",
                                   "--init", str(junk)])
    assert res.exit_code == 1 and "cannot read weights" in res.output, res.output
