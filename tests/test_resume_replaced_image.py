"""Trial 61: `detect run --resume` kept the detections of an image whose file was replaced (same path) since its
record was written to the part file. Each record now keeps its input's size and modification time; a resume runs
the images whose file changed again, with one note naming them, and still resumes a part file of an older version,
whose records keep none."""

import json
import os

from click.testing import CliRunner

from cli.main import cli
from detector.data.boxes_json import part_path, read_part
from test_cli_run import _interrupted_run, blocky, mb_args, tiny_model, tiny_multibox


def _stopped_after_two(tmp_path, monkeypatch):
    """Three images (widths 101, 102, 103), a run stopped (Ctrl-C) when it reaches the third: two records kept."""
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102, 103)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / "boxes.json"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    res = _interrupted_run(tmp_path, monkeypatch, args, stop_width=103)
    assert res.exit_code == 130 and "2 images done so far" in res.output, res.output
    return d, out, args


def test_resume_runs_again_an_image_replaced_since_its_record(tmp_path, monkeypatch):
    d, out, args = _stopped_after_two(tmp_path, monkeypatch)
    _, done = read_part(part_path(out))
    stat = os.stat(d / "0.png")
    assert done[0]["file"] == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}  # kept with the record
    blocky(d / "0.png", 140, 60, seed=9)  # replaced under the same name: another picture, another size
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert "resuming: 1 of 3 images already done" in res.output, res.output
    assert "resuming: 1 image changed since its record in the part file was written (another size or " \
        "modification time), run again: 0.png" in res.output, res.output
    doc = json.loads(out.read_text())
    assert doc["images"][0] == {"id": 1, "file_name": "0.png", "width": 140, "height": 60}
    # and the output is the one a run over the images as they are now writes
    fresh = tmp_path / "fresh.json"
    assert CliRunner().invoke(cli, [*args[:3], str(fresh), *args[4:]]).exit_code == 0
    assert doc == json.loads(fresh.read_text())


def test_a_part_file_of_an_older_version_is_still_resumed(tmp_path, monkeypatch):
    """Records without the stamp (written before it was kept) cannot tell a replaced image: they are kept, as
    before, and no note is made."""
    d, out, args = _stopped_after_two(tmp_path, monkeypatch)
    part = part_path(out)
    lines = [json.loads(line) for line in part.read_text().splitlines()]
    for record in lines[1:]:
        del record["file"]
    part.write_text("".join(json.dumps(r) + "\n" for r in lines))
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and "resuming: 2 of 3 images already done" in res.output, res.output
    assert "changed since" not in res.output
    assert len(json.loads(out.read_text())["images"]) == 3


def test_resume_runs_again_an_input_whose_broken_link_was_fixed(tmp_path, monkeypatch):
    """Trial 66: an input that was a broken symbolic link when its error was recorded, its target put in place
    before --resume, kept the error ("broken symbolic link … does not exist") and was left out of the output: its
    record had no stamp to tell by. Now it is recorded as not there (``"file": null``) and runs again."""
    d = tmp_path / "imgs"
    blocky(tmp_path / "target.png", 104, 70, seed=5)
    d.mkdir()
    (d / "0.png").symlink_to(tmp_path / "missing.png")  # broken now
    for k, w in ((1, 101), (2, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / "boxes.json"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    res = _interrupted_run(tmp_path, monkeypatch, args, stop_width=102)
    assert res.exit_code == 130 and "2 images done so far" in res.output, res.output
    _, done = read_part(part_path(out))
    assert "broken symbolic link" in done[0]["error"]["error"] and done[0].get("file") is None
    os.rename(tmp_path / "target.png", tmp_path / "missing.png")  # the link's target is there now
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert "run again: 0.png" in res.output, res.output
    doc = json.loads(out.read_text())
    assert doc["errors"] == [] and doc["images"][0] == {"id": 1, "file_name": "0.png", "width": 104, "height": 70}
    fresh = tmp_path / "fresh.json"
    assert CliRunner().invoke(cli, [*args[:3], str(fresh), *args[4:]]).exit_code == 0
    assert doc == json.loads(fresh.read_text())
