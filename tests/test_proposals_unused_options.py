"""`detect proposals --method multibox` with selective search's options ran MultiBox alone and ignored them without a
word (trial 61; `detect run --proposals multibox` refuses them): a usage error naming them, before any work."""

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli

IMAGE = Path(__file__).resolve().parent.parent / "samples" / "images" / "FudanPed00001.jpg"


def test_selective_search_options_with_multibox_alone_are_refused(tmp_path):
    out = tmp_path / "p.json"
    r = CliRunner().invoke(cli, ["proposals", str(IMAGE), "--method", "multibox", "--ss-scale", "1",
                                 "--ss-resize-width", "300", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert ("--ss-scale, --ss-resize-width are settings of selective search, which --method multibox does not run: "
            "drop them, or add --method ss or both") in r.output
    assert not out.exists()
    r = CliRunner().invoke(cli, ["proposals", str(IMAGE), "--method", "multibox", "--ss-mode", "single", "--out",
                                 str(out)])
    assert r.exit_code == 2 and "--ss-mode is a setting of selective search" in r.output, r.output
