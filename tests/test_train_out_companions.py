"""A training's --out whose companion files (<stem>.last.ckpt, <stem>.state.ckpt, <stem>.log.jsonl) would be another
run's is refused before any work (trial 68: `--out m.pth` beside a finished `m.pt` replaced m.pt's last epoch, resume
state and log; `--out m.last.ckpt` replaced a run's last epoch, so that its `--resume` was refused as 'started with
other training settings'; `--out m.state.ckpt` replaced a stopped run's resume state)."""
import click
import pytest
import torch

from cli.common import check_training_out


def _model(path):
    torch.save({"format": "x"}, path)  # a torch zip archive: what the --out check takes for a model file


def test_a_sibling_models_companions_are_not_replaced(tmp_path):
    _model(tmp_path / "m.pt")
    for name in ("m.last.ckpt", "m.state.ckpt"):
        _model(tmp_path / name)
    (tmp_path / "m.log.jsonl").write_text('{"epoch": 1}\n')
    for out in ("m.pth", "m.ckpt", "m"):
        with pytest.raises(click.ClickException) as e:
            check_training_out(tmp_path / out, {}, False)
        msg = e.value.message
        assert f"--out {tmp_path / out} would write" in msg and str(tmp_path / "m.state.ckpt") in msg \
            and f"belong to {tmp_path / 'm.pt'}" in msg, msg
    check_training_out(tmp_path / "m.pt", {}, False)  # the run's own --out again: as before
    check_training_out(tmp_path / "n.pth", {}, False)  # another stem: no clash


def test_a_sibling_without_companions_is_no_clash(tmp_path):
    _model(tmp_path / "m.pt")
    check_training_out(tmp_path / "m.pth", {}, False)
    (tmp_path / "m.json").write_text("{}")  # not a model: its stem clashes with nothing a training writes
    _model(tmp_path / "k.last.ckpt")
    check_training_out(tmp_path / "k.pt", {}, False)  # its own last epoch


@pytest.mark.parametrize("name", ["m.last.ckpt", "m.state.ckpt", "M.State.CKPT"])
def test_an_out_named_as_a_companion_is_refused(tmp_path, name):
    _model(tmp_path / name)
    with pytest.raises(click.ClickException) as e:
        check_training_out(tmp_path / name, {}, False)
    assert f"--out {tmp_path / name} is named as the" in e.value.message and "another name" in e.value.message
    with pytest.raises(click.ClickException):  # not there yet: a later run of m.pt would replace it
        check_training_out(tmp_path / ("new" + name[1:]), {}, False)
