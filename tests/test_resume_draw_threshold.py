"""Trial 61: `detect run --resume --draw DIR` with another `--draw-threshold` kept the pictures the interrupted (or
finished) run had drawn at the old threshold, without a word, and then said "drawings in DIR (boxes scoring at
least <new>)". Each part-file record now keeps the threshold its picture was drawn at, a finished boxes.json its
`drawing`; a resume draws the pictures of another threshold again, with a note, so that every picture is the one a
run at the new threshold draws. A picture whose threshold nobody recorded (an older version's) is kept, with a
note saying how to have it drawn."""

import json

from click.testing import CliRunner

from cli.main import cli
from detector.data.boxes_json import part_path
from test_cli_run import _interrupted_run, blocky, mb_args, tiny_model, tiny_multibox

WIDTHS = (101, 102, 103)


def _job(tmp_path):
    d = tmp_path / "imgs"
    for k, w in enumerate(WIDTHS):
        blocky(d / f"{k}.png", w, 80, seed=k)
    return d, mb_args(d, tmp_path / "boxes.json", tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))


def _fresh(tmp_path, args, threshold: str):
    """The pictures and output of an uninterrupted run at ``threshold``."""
    folder, out = tmp_path / f"fresh{threshold}", tmp_path / f"fresh{threshold}.json"
    res = CliRunner().invoke(cli, [*args[:3], str(out), *args[4:], "--draw", str(folder), "--draw-threshold",
                                   threshold])
    assert res.exit_code == 0, res.output
    return folder, json.loads(out.read_text())


def _same_pictures(a, b):
    for k in range(len(WIDTHS)):
        assert (a / f"{k}.png").read_bytes() == (b / f"{k}.png").read_bytes(), k


def test_resume_with_another_draw_threshold_draws_the_pictures_again(tmp_path, monkeypatch):
    d, args = _job(tmp_path)
    out, drawn = tmp_path / "boxes.json", tmp_path / "drawn"
    draw = ["--draw", str(drawn)]
    res = _interrupted_run(tmp_path, monkeypatch, [*args, *draw, "--draw-threshold", "0"], stop_width=102)
    assert res.exit_code == 130 and "1 image done so far" in res.output, res.output
    assert (drawn / "0.png").is_file()
    res = CliRunner().invoke(cli, [*args, *draw, "--draw-threshold", "1", "--resume"])
    assert res.exit_code == 0, res.output
    assert f"resuming: drawing 1 image from the part file again: its picture in {drawn} was drawn at " \
        "--draw-threshold 0 in that run, 1 now" in res.output, res.output
    fresh1, doc1 = _fresh(tmp_path, args, "1")
    _same_pictures(drawn, fresh1)
    doc = json.loads(out.read_text())
    assert doc["drawing"] == {"threshold": 1.0} and doc == doc1
    # the finished output, resumed at another threshold: every picture drawn again, its "drawing" rewritten
    res = CliRunner().invoke(cli, [*args, *draw, "--draw-threshold", "0", "--resume"])
    assert res.exit_code == 0 and "nothing to resume" in res.output, res.output
    assert f"drawing 3 images of {out} again: their pictures in {drawn} were drawn at --draw-threshold 1, 0 now" \
        in res.output, res.output
    fresh0, doc0 = _fresh(tmp_path, args, "0")
    _same_pictures(drawn, fresh0)
    assert json.loads(out.read_text()) == doc0 and doc0["drawing"] == {"threshold": 0.0}
    # at the same threshold: nothing to draw, the output untouched
    mtime = out.stat().st_mtime_ns
    res = CliRunner().invoke(cli, [*args, *draw, "--draw-threshold", "0", "--resume"])
    assert res.exit_code == 0 and "drawing" not in res.output.replace("--draw", ""), res.output
    assert out.stat().st_mtime_ns == mtime


def test_pictures_of_a_part_file_that_does_not_record_their_threshold_are_kept_with_a_note(tmp_path, monkeypatch):
    d, args = _job(tmp_path)
    out, drawn = tmp_path / "boxes.json", tmp_path / "drawn"
    draw = ["--draw", str(drawn)]
    res = _interrupted_run(tmp_path, monkeypatch, [*args, *draw, "--draw-threshold", "0"], stop_width=102)
    assert res.exit_code == 130, res.output
    part = part_path(out)  # as an older version wrote it
    lines = [json.loads(line) for line in part.read_text().splitlines()]
    for record in lines[1:]:
        del record["draw_threshold"]
    part.write_text("".join(json.dumps(r) + "\n" for r in lines))
    before = (drawn / "0.png").read_bytes()
    res = CliRunner().invoke(cli, [*args, *draw, "--draw-threshold", "1", "--resume"])
    assert res.exit_code == 0, res.output
    assert f"note: --draw {drawn}: 1 picture already there is kept: the part file does not say at which " \
        "--draw-threshold it was drawn" in res.output and "delete it to have it drawn at 1" in res.output, res.output
    assert (drawn / "0.png").read_bytes() == before
    assert "drawing" not in json.loads(out.read_text())  # not every picture is known to be drawn at 1


def test_a_merge_of_drawn_shards_keeps_their_drawing(tmp_path):
    """`detect merge` writes the file one run would have: with `--draw`, its `drawing` too."""
    d, args = _job(tmp_path)
    parts = []
    for i in range(2):
        parts.append(tmp_path / f"p{i}.json")
        res = CliRunner().invoke(cli, [*args[:3], str(parts[-1]), *args[4:], "--shard", f"{i}/2", "--draw",
                                       str(tmp_path / "shards"), "--draw-threshold", "0.5"])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(tmp_path / "merged.json")])
    assert res.exit_code == 0, res.output
    _, whole = _fresh(tmp_path, args, "0.5")
    assert json.loads((tmp_path / "merged.json").read_text()) == whole and whole["drawing"] == {"threshold": 0.5}
