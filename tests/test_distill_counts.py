"""`detect train distill` says what it trains and validates on as decoded: its header counted the photos before any
was decoded (an unreadable one included, warned of only after the header)."""

from click.testing import CliRunner

from cli.main import cli
from test_distill import TinyTeacher, _photos

BROKEN_JPEG = b"\xff\xd8\xff\xe0 not a jpeg"


def distill(tmp_path, monkeypatch, *extra):
    import cli.distill_cmd as dc

    monkeypatch.setattr(dc, "load_teacher", lambda path=None: TinyTeacher().eval())
    return CliRunner().invoke(cli, ["train", "distill", "--photos", str(tmp_path / "photos"), "--out",
                                    str(tmp_path / "d.pt"), "--width", "0.125", "--input-size", "96", "--epochs",
                                    "1", "--workers", "0", "--teacher-backend", "torch", *extra])


def test_the_header_counts_the_photos_decoded(tmp_path, monkeypatch):
    _photos(tmp_path / "photos", 4)
    (tmp_path / "photos" / "cut.jpg").write_bytes(BROKEN_JPEG)
    _photos(tmp_path / "val", 1, seed=1)
    (tmp_path / "val" / "gone.jpg").write_bytes(BROKEN_JPEG)
    res = distill(tmp_path, monkeypatch, "--batch-size", "4", "--val-photos", str(tmp_path / "val"))
    assert res.exit_code == 0, res.output
    assert f"distilling {tmp_path / 'd.pt'}: 4 training items (4 photos, 0 from 0 annotated sets), 1 validation " \
           "photo;" in res.output, res.output
    assert -1 < res.output.find("cut.jpg") < res.output.find("distilling"), res.output  # said first


def test_the_items_each_epoch_leaves_out_are_said(tmp_path, monkeypatch):
    """An epoch is whole batches of --batch-size views (mixing pairs a batch with itself reversed; BatchNorm wants
    more than one view): the rest was left out of every epoch without a word — 3 of 7 photos at --batch-size 4."""
    from detector.distill import epoch_batches

    assert epoch_batches(7, 4) == (7, 4, 3)
    assert epoch_batches(8, 4) == (8, 4, 0) and epoch_batches(3, 128) == (3, 3, 0)  # fewer than a batch: one batch
    assert epoch_batches(7, 2, world=2) == (4, 2, 0)  # each process 4 (the order padded), in 2 batches
    assert epoch_batches(7, 3, world=2) == (4, 3, 1)

    _photos(tmp_path / "photos", 7)
    res = distill(tmp_path, monkeypatch, "--batch-size", "4")
    assert res.exit_code == 0, res.output
    assert "note: an epoch trains on whole batches of --batch-size 4: 3 of the 7 training items are left out of " \
           "each epoch (others each time, drawn in its random order)" in res.output, res.output
    res = distill(tmp_path, monkeypatch, "--batch-size", "7")
    assert res.exit_code == 0 and "left out of each epoch" not in res.output, res.output


def test_validation_photos_none_of_which_decodes_are_warned_of(tmp_path, monkeypatch):
    """--val-photos none of which could be decoded: each was named, then the run went on without validation — the
    agreement with the teacher never measured, --out the last epoch — without a word."""
    _photos(tmp_path / "photos", 4)
    (tmp_path / "val").mkdir()
    for name in ("v1.jpg", "v2.jpg"):
        (tmp_path / "val" / name).write_bytes(BROKEN_JPEG)
    res = distill(tmp_path, monkeypatch, "--batch-size", "4", "--val-photos", str(tmp_path / "val"))
    assert res.exit_code == 0, res.output
    assert "warning: none of the 2 validation photos could be decoded (named above): no epoch is validated, " \
           "and --out is the last epoch's model" in res.output, res.output
    assert "agreement" not in res.output
    _photos(tmp_path / "val", 1, seed=1)  # one that decodes: validated, nothing more to say
    res = distill(tmp_path, monkeypatch, "--batch-size", "4", "--val-photos", str(tmp_path / "val"))
    assert res.exit_code == 0 and "none of the" not in res.output and "agreement" in res.output, res.output


def test_the_header_counts_the_views_of_a_batch_as_trained(tmp_path, monkeypatch):
    """Trial 65: 7 photos at --batch-size 8 trained each epoch on one batch of 7 views, and the header said "epochs of
    8 views": it says the batch trained, --batch-size or all the items when they are fewer."""
    _photos(tmp_path / "photos", 3)
    res = distill(tmp_path, monkeypatch, "--batch-size", "8")
    assert res.exit_code == 0, res.output
    assert "; 1 epoch × 1 batch of 3 views on cpu" in res.output and "of 8 views" not in res.output, res.output
    (tmp_path / "d.pt").unlink()
    (tmp_path / "d.state.ckpt").unlink()
    res = distill(tmp_path, monkeypatch, "--batch-size", "2")  # trial 64: "epoch of 2 views" read as the epoch's size
    assert res.exit_code == 0 and "; 1 epoch × 1 batch of 2 views on cpu" in res.output, res.output
    _photos(tmp_path / "photos", 5)  # 5 photos (the 3 replaced): 2 batches of 2, one left out
    for name in ("d.pt", "d.state.ckpt"):
        (tmp_path / name).unlink()
    res = distill(tmp_path, monkeypatch, "--batch-size", "2")
    assert res.exit_code == 0 and "; 1 epoch × 2 batches of 2 views on cpu" in res.output, res.output
