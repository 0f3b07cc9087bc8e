import json

from click.testing import CliRunner

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
    res = CliRunner().invoke(cli, ["inspect", str(root), "--format", "yolo"])
    assert res.exit_code == 2


def test_help():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0 and "inspect" in res.output
