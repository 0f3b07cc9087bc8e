"""Option values and settings refused as usage errors from a user trial: non-finite floats, a resumed MultiBox run
with other settings, a default output replacing a file that is not ours, and notes `detect eval` owes."""

import json
from pathlib import Path

import click
from click.testing import CliRunner

from cli.main import cli

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _float_options(group: click.Group, path=()):
    """(command path, option flag) of every float option of every command under ``group``."""
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _float_options(cmd, (*path, name))
            continue
        for p in cmd.params:
            if isinstance(p, click.Option) and isinstance(p.type, click.types.FloatParamType):
                yield (*path, name), p.opts[0]


def test_every_float_option_refuses_nan_and_infinity(tmp_path):
    options = list(_float_options(cli))
    flags = {flag for _, flag in options}
    assert {"--score-threshold", "--nms-iou", "--draw-threshold", "--ss-scale", "--iou-threshold",
            "--crop-min-area", "--lr"} <= flags
    for path, flag in options:
        for value, what in (("nan", "is not a number"), ("NaN", "is not a number"), ("inf", "is not a finite"),
                            ("-inf", "is not a finite")):
            res = CliRunner().invoke(cli, [*path, flag, value])
            assert res.exit_code == 2, (path, flag, value, res.output)
            assert f"Invalid value for '{flag}': {value} {what}" in res.output, (path, flag, res.output)
    # with everything else given, nothing is written (no OUT.part.jsonl left behind)
    gt, img = str(SAMPLES / "annotations.json"), str(SAMPLES / "images" / "PennPed00010.jpg")
    out = tmp_path / "o.json"
    for args in (["run", img, "--preset", "fast", "--out", str(out), "--score-threshold", "nan"],
                 ["run", img, "--preset", "fast", "--out", str(out), "--nms-iou", "nan"],
                 ["run", img, "--preset", "fast", "--out", str(out), "--ss-scale", "nan"],
                 ["run", img, "--preset", "fast", "--out", str(out), "--draw-threshold", "nan"],
                 ["eval", "--gt", gt, "--pred", gt, "--iou-threshold", "nan"],
                 ["train", "multibox", "--gt", gt, "--out", str(tmp_path / "m.pt"), "--crop-min-area", "nan"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and "nan is not a number" in res.output, (args, res.output)
    assert not list(tmp_path.iterdir())


def test_a_multibox_run_resumes_only_with_its_own_settings(tmp_path):
    gt, out = str(SAMPLES / "annotations.json"), tmp_path / "m.pt"
    ours, priors = tmp_path / "ours.txt", tmp_path / "priors.txt"
    ours.write_text("\n".join(f"0.{k} 0.{k} 0.9 0.9" for k in range(8)) + "\n")
    priors.write_text("\n".join("0.1 0.1 0.9 0.9" for _ in range(8)) + "\n")
    base = ["train", "multibox", "--gt", gt, "--out", str(out), "--input-size", "96", "--width", "0.25",
            "--device", "cpu"]
    res = CliRunner().invoke(cli, [*base, "--epochs", "1", "--crop-min-area", "0.5", "--priors", str(ours)])
    assert res.exit_code == 0, res.output
    state = out.with_suffix(".state.ckpt").read_bytes()
    same = ["--priors", str(ours), "--crop-min-area", "0.5"]
    for changed, needles in (
            (["--priors", str(ours), "--crop-min-area", "1", "--lr", "0.5", "--batch-size", "2"],
             ["crop_min_area: 1.0 now, 0.5 in that run", "lr: 0.5 now, 0.02 in that run",
              "batch_size: 2 now, 16 in that run"]),
            ([*same, "--input-size", "160"], ["input_size: 160 now, 96 in that run"]),
            ([*same, "--width", "0.5"], ["width: 0.5 now, 0.25 in that run"]),
            (["--crop-min-area", "0.5", "--priors", str(priors)], ["priors: other boxes now than in that run"]),
            (["--crop-min-area", "0.5"], ["num_priors: 200 now, 8 in that run"]),
            ([*same, "--seed", "3"], ["seed: 3 now, 0 in that run"])):
        for epochs in ("3", "1"):  # a finished run too
            res = CliRunner().invoke(cli, [*base, "--epochs", epochs, "--resume", *changed])
            assert res.exit_code == 1 and "Traceback" not in res.output, res.output
            assert f"cannot resume {out}" in res.output and "delete" in res.output, res.output
            for needle in needles:
                assert needle in res.output, res.output
            assert "epochs" not in res.output.split("(")[1].split(")")[0], res.output
        assert out.with_suffix(".state.ckpt").read_bytes() == state  # nothing trained, nothing recorded
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", *same])  # raising --epochs trains on
    assert res.exit_code == 0 and "epoch   2" in res.output, res.output


def test_proposals_never_replace_a_file_that_is_not_theirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    img = str(SAMPLES / "images" / "PennPed00010.jpg")
    args = ["proposals", img, "--ss-resize-width", "100", "--no-cache", "--workers", "0"]
    mine = tmp_path / "proposals.json"  # the default --out
    mine.write_text('{"my":"important"}\n')
    for extra in ([], ["--out", str(mine)]):
        res = CliRunner().invoke(cli, [*args, *extra])
        assert res.exit_code == 1 and "is not a proposals output" in res.output, res.output
        assert mine.read_text() == '{"my":"important"}\n'
    mine.unlink()
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and "wrote proposals.json" in res.output, res.output
    res = CliRunner().invoke(cli, args)  # its own output is replaced
    assert res.exit_code == 0, res.output
    assert json.loads(mine.read_text())["method"] == "ss"
