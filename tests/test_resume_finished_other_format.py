"""Trial 61: `detect run --format coco --resume` over a finished job. Over its own finished COCO output it has
nothing to do, as `--resume` of a finished boxes.json (the output kept byte for byte); over the same job's finished
boxes.json (`--format json`, the default) it ran the whole job again and replaced the file saying only "nothing to
resume (… does not exist): starting from the first image" — now a note first says that the file is this job's
finished output in another form, and that it will be replaced; the same the other way round."""

import json

from click.testing import CliRunner

from cli.main import cli
from test_cli_run import blocky, mb_args, tiny_model, tiny_multibox


def test_resume_in_another_format_names_the_finished_output_it_replaces(tmp_path):
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / "res.json"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    assert CliRunner().invoke(cli, args).exit_code == 0  # boxes.json
    res = CliRunner().invoke(cli, [*args, "--format", "coco", "--resume"])
    assert res.exit_code == 0, res.output
    assert f"note: {out} is the finished output of this job in another form: --format coco now, json in that run — it " \
        "will be replaced" in res.output, res.output
    assert isinstance(json.loads(out.read_text()), list)  # COCO results now
    coco = out.read_bytes()
    mtime = out.stat().st_mtime_ns
    # its own finished COCO output: nothing to do, the file kept as it is, as for the default format
    res = CliRunner().invoke(cli, [*args, "--format", "coco", "--resume"])
    assert res.exit_code == 0 and f"nothing to resume: {out} is this job's finished output" in res.output, res.output
    assert "will be replaced" not in res.output and "starting from the first image" not in res.output
    assert out.read_bytes() == coco and out.stat().st_mtime_ns == mtime
    fresh = tmp_path / "fresh.json"  # and it is what a run writes
    assert CliRunner().invoke(cli, [*args[:3], str(fresh), *args[4:], "--format", "coco"]).exit_code == 0
    assert fresh.read_bytes() == coco
    # back to the default format: the COCO output is named likewise before it is replaced
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert f"note: {out} is the finished output of this job in another form: --format json now, coco in that run" \
        in res.output, res.output
    assert "job" in json.loads(out.read_text()) and not (tmp_path / "res.json.job.json").exists()


def test_an_ilsvrc_outputs_image_list_goes_with_it(tmp_path):
    """Trial 65: an ILSVRC output replaced by another format's (its job's --resume in --format json or coco, or a
    run of its own) lost its job record, but its image list <stem>.images.txt stayed beside the new output, naming
    the images of a file no longer there. It goes with the output it numbered; a list edited since is kept."""
    d = tmp_path / "imgs"
    for k, w in enumerate((101, 102)):
        blocky(d / f"{k}.png", w, 80, seed=k)
    out = tmp_path / "res.txt"
    image_list = tmp_path / "res.images.txt"
    args = mb_args(d, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt"))
    for other in ("json", "coco"):
        assert CliRunner().invoke(cli, [*args, "--format", "ilsvrc"]).exit_code == 0
        assert image_list.read_text().startswith("0.png 1")
        res = CliRunner().invoke(cli, [*args, "--format", other, "--resume"])
        assert res.exit_code == 0 and "in another form" in res.output, res.output
        assert not image_list.exists(), other
    assert CliRunner().invoke(cli, [*args, "--format", "ilsvrc"]).exit_code == 0
    image_list.write_text("0.png 1\n1.png 2\nmine.png 3\n")  # edited since: no longer the run's
    assert CliRunner().invoke(cli, [*args, "--format", "json"]).exit_code == 0
    assert image_list.read_text().endswith("mine.png 3\n")
