import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from helpers import voc_xml, write_image


def make_voc(tmp_path):
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(voc_xml("a.jpg", 100, 80, [("person", 1, 1, 10, 20, 0),
                                                                          ("dog", 11, 12, 140, 50, 0)]))
    (root / "Annotations" / "b.xml").write_text(voc_xml("b.jpg", 60, 60, []))
    (root / "Annotations" / "c.xml").write_text("<annotation><size>")  # malformed
    write_image(root / "JPEGImages" / "a.jpg", 100, 80)
    write_image(root / "JPEGImages" / "b.jpg", 50, 60)  # not the annotated size
    return root


def test_inspect_text_and_json(tmp_path):
    root = make_voc(tmp_path)
    out = tmp_path / "report.json"
    res = CliRunner().invoke(cli, ["inspect", str(root), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "images                       2" in res.output
    assert "person" in res.output and "dog" in res.output
    report = json.loads(out.read_text())
    assert report["images"] == 2 and report["boxes"] == 2
    assert report["classes"] == {"dog": 1, "person": 1}
    assert report["images_without_boxes"] == ["b.jpg"]
    assert report["box_sizes"] == {"small": 1, "medium": 1, "large": 0}  # 10x20 and 130x39
    kinds = sorted(p["kind"] for p in report["problems"])
    assert kinds == ["malformed", "outside_image", "size_mismatch"]
    assert any("c.xml" in p["file"] for p in report["problems"])


def test_inspect_strict_exit_code(tmp_path):
    res = CliRunner().invoke(cli, ["inspect", str(make_voc(tmp_path)), "--strict"])
    assert res.exit_code == 1


def test_inspect_missing_path(tmp_path):
    res = CliRunner().invoke(cli, ["inspect", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_inspect_format_override_and_bad_format(tmp_path):
    root = make_voc(tmp_path)
    res = CliRunner().invoke(cli, ["inspect", str(root / "Annotations"), "--format", "voc", "--no-image-check"])
    assert res.exit_code == 0 and "(voc)" in res.output
    res = CliRunner().invoke(cli, ["inspect", str(root), "--format", "kitti"])
    assert res.exit_code == 2


def test_help():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0 and "inspect" in res.output


def test_inspect_lists_unreadable_files_and_eval_names_them(tmp_path):
    # issue 12, kind 4: a file that cannot be read (a folder named like one — what a permission error looks like
    # to a root user —, bytes in no encoding, an encoding Python does not know) is a problem inspect lists; eval
    # stops with an error naming the file, not a traceback
    d = tmp_path / "xml"
    d.mkdir()
    (d / "a.xml").write_text(voc_xml("a.jpg", 100, 80, [("person", 1, 1, 10, 20, 0)]))
    (d / "b.xml").mkdir()
    (d / "c.xml").write_bytes(b'<?xml version="1.0" encoding="klingon"?><annotation/>')
    (d / "d.xml").write_bytes('<?xml version="1.0" encoding="gb2312"?>'.encode() +
                              voc_xml("d.jpg", 100, 80, [("person", 1, 1, 10, 20, 0)]).replace(
                                  "VOC2012", "行人").encode("gb2312"))  # readable: its declared encoding
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["inspect", str(d), "--format", "voc", "--no-image-check", "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["images"] == 2 and report["boxes"] == 2
    assert {(p["file"].rsplit("/", 1)[-1], p["kind"]) for p in report["problems"]} == {
        ("b.xml", "unreadable"), ("c.xml", "malformed")}
    assert "declares encoding 'klingon'" in res.output
    sub = tmp_path / "b.json"
    sub.write_text(json.dumps({"images": [], "categories": [], "detections": []}))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(d), "--format", "voc", "--pred", str(sub)])
    assert res.exit_code == 1 and "b.xml: cannot read: Is a directory" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)  # a clean exit, no traceback


def test_voc_stale_filename_tag_end_to_end(tmp_path):
    # issue 12, kind 3(a): Annotations/site_01.xml says <filename>IMG_1234.jpg</filename>, the image is
    # JPEGImages/site_01.jpg (the devkit's rule). Before: AP 0 and "none of the image files was found".
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "site_01.xml").write_text(voc_xml("IMG_1234.jpg", 100, 80, [("person", 11, 11, 50, 70, 0)]))
    write_image(root / "JPEGImages" / "site_01.jpg", 100, 80)
    res = CliRunner().invoke(cli, ["inspect", str(root)])
    assert res.exit_code == 0 and "none of the" not in res.output and "filename_mismatch" not in res.output
    assert "IMG_1234.jpg" in res.output  # the stale tag is reported as a warning
    sub = tmp_path / "boxes.json"  # what detect run JPEGImages/ writes: the exact box of the object
    sub.write_text(json.dumps({"images": [{"id": 1, "file_name": "site_01.jpg"}],
                               "categories": [{"id": 124, "wnid": "n00007846", "name": "person"}],
                               "detections": [{"image_id": 1, "category_id": 124, "bbox": [10, 10, 40, 60],
                                               "score": 0.9}]}))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(root), "--pred", str(sub)])
    assert res.exit_code == 0 and "ilsvrc mAP 1.0000" in res.output, res.output  # 1 TP of 1 positive


def test_decode_finds_a_truncated_image_the_header_check_passes(tmp_path):
    """Noticed in round 16: `detect inspect` read headers only, so a file cut after its header passed and was left
    out of training later. ``--decode`` decodes each image as training does."""
    root = make_voc(tmp_path)
    jpg = root / "JPEGImages" / "a.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 100, 3), dtype=np.uint8)).save(jpg)  # noise:
    data = jpg.read_bytes()  # image data well past the header
    jpg.write_bytes(data[: len(data) // 2])  # header intact, image data cut
    res = CliRunner().invoke(cli, ["inspect", str(root), "--json", str(tmp_path / "h.json")])
    assert res.exit_code == 0, res.output
    assert "unreadable_image" not in {p["kind"] for p in json.loads((tmp_path / "h.json").read_text())["problems"]}
    res = CliRunner().invoke(cli, ["inspect", str(root), "--decode", "--json", str(tmp_path / "d.json")])
    assert res.exit_code == 0, res.output
    problems = json.loads((tmp_path / "d.json").read_text())["problems"]
    assert [p["kind"] for p in problems if p["file"] == str(jpg)] == ["unreadable_image"], problems
    assert "the file is truncated" in res.output, res.output
    assert "size_mismatch" in {p["kind"] for p in problems}  # b.jpg's size, from its decoded pixels
    res = CliRunner().invoke(cli, ["inspect", str(root), "--decode", "--no-image-check"])
    assert res.exit_code == 2 and "--no-image-check skips" in res.output, res.output
