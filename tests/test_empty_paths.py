"""Trial 59: an empty path given for a folder or a report file (an unset shell variable: ``--draw "$DRAW"``) is a usage
error, as ``--out ''`` is. ``Path('')`` is ``.``: ``detect run --draw ''`` wrote its pictures and ``--cache-dir ''`` the
proposal cache into the current folder without a word; ``detect eval/inspect/proposals --json ''`` did all the work,
then failed with "Error: .: it is a folder", and ``--json newdir/`` wrote a file named ``newdir``."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    img = tmp_path / "in" / "a.png"
    img.parent.mkdir()
    Image.new("RGB", (64, 48), (120, 90, 30)).save(img)
    return img


def _usage_error(args, option, expected, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{option}': {expected}" in res.output, res.output
    assert "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written into the current folder


@pytest.mark.parametrize("option, example", [("--draw", "drawn/"), ("--cache-dir", "proposal-cache/")])
def test_run_refuses_an_empty_folder(image, tmp_path, option, example):
    _usage_error(["run", str(image), "--out", str(tmp_path / "b.json"), option, ""], option,
                 f"empty path: give the folder to write into, such as {example}", tmp_path)


def test_train_refuses_an_empty_folder(image, tmp_path):
    gt = str(SAMPLES / "annotations.json")
    _usage_error(["train", "ensemble", "--out", "", "--gt", gt], "--out",
                 "empty path: give the folder to write into, such as models/ensemble/", tmp_path)
    _usage_error(["train", "classifier", "--out", str(tmp_path / "m.pt"), "--gt", gt, "--cache-dir", ""],
                 "--cache-dir", "empty path: give the folder to write into", tmp_path)


def test_reports_refuse_an_empty_path_or_a_folder(image, tmp_path):
    gt = str(SAMPLES / "annotations.json")
    eval_args = ["eval", "--gt", gt, "--pred", gt]
    _usage_error([*eval_args, "--json", ""], "--json", "empty path: give the path of a file to write, such as "
                 "eval.json", tmp_path)
    _usage_error([*eval_args, "--json", "newdir/"], "--json", "newdir/ names a folder; give a file such as "
                 "newdir/eval.json", tmp_path)
    _usage_error([*eval_args, "--plot", str(image.parent)], "--plot", f"{image.parent} names a folder", tmp_path)
    _usage_error(["inspect", gt, "--json", ""], "--json", "empty path", tmp_path)
    _usage_error(["proposals", str(image), "--json", ""], "--json", "empty path", tmp_path)


def test_load_detector_refuses_an_empty_cache_dir(tmp_path, monkeypatch):
    from detector import load_detector

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"cache_dir='': empty path"):
        load_detector(cache_dir="")
    assert list(tmp_path.iterdir()) == []
