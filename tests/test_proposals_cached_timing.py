"""`detect proposals` says when selective search came from the cache: its seconds per image then leave the search
out (trial 47: `--method ss` on cached images printed 0.001 s/img beside 1.5 s/img for the same images uncached,
and `--method ss --method both` timed `both` without its selective search, with no word of why)."""
import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import cli


def test_cached_selective_search_is_counted_and_noted(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    args = ["proposals", str(tmp_path / "a.png"), "--ss-mode", "single", "--ss-resize-width", "80", "--workers", "0",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "p.json"),
            "--json", str(tmp_path / "r.json")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "from the cache" not in res.output, res.output
    assert json.loads((tmp_path / "r.json").read_text())["methods"]["ss"]["cached_images"] == 0
    res = CliRunner().invoke(cli, args)  # the same image again: its selective search is the cache's
    assert res.exit_code == 0, res.output
    assert "note: ss: the selective search of 1 of the 1 image came from the cache" in res.output, res.output
    assert "--no-cache" in res.output, res.output
    assert json.loads((tmp_path / "r.json").read_text())["methods"]["ss"]["cached_images"] == 1
    res = CliRunner().invoke(cli, [*args, "--no-cache"])
    assert res.exit_code == 0 and "from the cache" not in res.output, res.output
    mb = [a for k, a in enumerate(args) if a not in ("--ss-mode", "--ss-resize-width")  # selective search's
          and args[k - 1] not in ("--ss-mode", "--ss-resize-width")]  # options are refused with MultiBox alone
    res = CliRunner().invoke(cli, [*mb, "--method", "multibox"])  # MultiBox alone: no search to cache
    assert res.exit_code == 0 and "from the cache" not in res.output, res.output
