"""Option values and settings refused as usage errors from a user trial: non-finite floats, a resumed MultiBox run
with other settings, a default output replacing a file that is not ours, and notes `detect eval` owes."""

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
