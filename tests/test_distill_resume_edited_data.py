"""`detect train distill --resume` compared --photos and --gt by path alone: a --gt edited since (other images) or a
--photos folder whose photos changed went on without a word (trial 68), though the README refuses other --photos or
--gt. Their content is now compared; and the model records the --init it started from, as `detect inspect` says."""
from click.testing import CliRunner

from cli.main import cli
from detector.classifier import load_member
from detector.nn.loop import state_path
from helpers import write_images_gt
from test_distill import TinyTeacher, _photos
from test_train import synthetic_images


def test_edited_photos_or_gt_are_refused_on_resume(tmp_path, monkeypatch):
    import cli.distill_cmd as dc
    import detector.distill as dm

    monkeypatch.setattr(dm, "load_teacher", lambda path=None: TinyTeacher().eval())
    monkeypatch.setattr(dc, "load_teacher", lambda path=None: TinyTeacher().eval())
    photos = _photos(tmp_path / "photos", 6)
    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "d.pt"
    args = ["train", "distill", "--photos", str(tmp_path / "photos"), "--gt", str(gt), "--out", str(out), "--width",
            "0.125", "--input-size", "96", "--batch-size", "4", "--workers", "0", "--teacher-backend", "torch"]
    r = CliRunner().invoke(cli, [*args, "--epochs", "1"])
    assert r.exit_code == 0, r.output
    state = state_path(out).read_bytes()
    write_images_gt(gt, images[:2])  # the same file, fewer images
    r = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert f"cannot resume {out}: it was started with other training data (--gt {gt} now, {gt} in that run: the " \
        "same files, edited since; other images, boxes or classes" in r.output, r.output
    write_images_gt(gt, images)
    photos[0].unlink()  # one photo fewer in the folder
    r = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert r.exit_code == 1 and f"(--photos {tmp_path / 'photos'} now, {tmp_path / 'photos'} in that run: the same " \
        "files, edited since; other photos" in r.output, r.output
    assert state_path(out).read_bytes() == state  # nothing trained
    _photos(tmp_path / "photos", 6)  # as it was: goes on
    r = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])
    assert r.exit_code == 0 and "epoch   2" in r.output, r.output


def test_the_init_is_recorded(tmp_path, monkeypatch):
    import cli.distill_cmd as dc
    import detector.distill as dm

    monkeypatch.setattr(dm, "load_teacher", lambda path=None: TinyTeacher().eval())
    monkeypatch.setattr(dc, "load_teacher", lambda path=None: TinyTeacher().eval())
    _photos(tmp_path / "photos", 4)
    args = ["train", "distill", "--photos", str(tmp_path / "photos"), "--width", "0.125", "--input-size", "96",
            "--batch-size", "4", "--workers", "0", "--teacher-backend", "torch", "--epochs", "1"]
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a.pt")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b.pt"), "--init", str(tmp_path / "a.pt")])
    assert r.exit_code == 0, r.output
    assert load_member(tmp_path / "b.pt").train["init"] == str(tmp_path / "a.pt")
    r = CliRunner().invoke(cli, ["inspect", str(tmp_path / "b.pt")])
    assert f"from {tmp_path / 'a.pt'}" in r.output, r.output
