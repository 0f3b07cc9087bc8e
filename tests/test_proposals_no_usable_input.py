"""`detect proposals` over inputs none of which could be read exits 1, as `detect run` does, after writing the
errors to --out (trial 47: it printed a row of 0.0 boxes per image and exited 0)."""
import json

from click.testing import CliRunner

from cli.main import cli


def test_every_input_failing_is_an_error_after_the_errors_are_written(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"not an image")
    (tmp_path / "b.png").write_bytes(b"")
    out = tmp_path / "p.json"
    res = CliRunner().invoke(cli, ["proposals", str(tmp_path), "--out", str(out), "--no-cache", "--workers", "0",
                                   "--ss-mode", "single", "--ss-resize-width", "80"])
    assert res.exit_code == 1, res.output
    assert "no input could be used: 2 inputs failed" in res.output and str(out) in res.output, res.output
    doc = json.loads(out.read_text())
    assert doc["images"] == [] and sorted(e["file_name"] for e in doc["errors"]) == ["a.jpg", "b.png"]
