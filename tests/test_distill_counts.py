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
