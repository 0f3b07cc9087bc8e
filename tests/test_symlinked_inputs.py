"""Trial 61: a folder reached twice through a symbolic link (`images/` and `link_to_images/` beside it, or a link to
a sibling folder inside) ran the same files twice, under two names. A folder's file reached a second time through a
link is now left out, with one note naming it and the name it runs under (the one without a link); hard links stay
files of their own. A list naming one file twice, the second time through a link, is refused as a file listed
twice is.

Trial 64: the rule is one folder entry reached twice through a link to a folder. Two entries linking to one file (a
DVC-style cache of identical images: images/x.png -> cache/ab12, images/y.png -> cache/ab12) are two images, each
name one the user gave; a broken link or a loop reached through a folder link is listed under errors once."""

import json
import os

from click.testing import CliRunner

from cli.main import cli
from detector.data.images import scan_images
from test_cli_run import blocky, mb_args, tiny_model, tiny_multibox


def _tree(tmp_path):
    root = tmp_path / "data"
    for k, name in enumerate(("images/a.png", "images/sub/b.png", "other/c.png")):
        blocky(root / name, 100 + k, 80, seed=k)
    os.symlink("images", root / "link_to_images")  # the whole folder again, beside it
    os.symlink("../../other", root / "images" / "sub" / "z_other")  # a sibling folder, from inside another
    os.link(root / "other" / "c.png", root / "other" / "hard.png")  # a hard link: a file of its own
    return root


def test_a_folder_reached_twice_through_a_link_runs_once(tmp_path):
    root = _tree(tmp_path)
    duplicates = []
    names = [i.name for i in scan_images(root, duplicates)]
    assert names == ["images/a.png", "images/sub/b.png", "other/c.png", "other/hard.png"]
    assert duplicates == [("images/sub/z_other/c.png", "other/c.png"),
                          ("images/sub/z_other/hard.png", "other/hard.png"),
                          ("link_to_images/a.png", "images/a.png"), ("link_to_images/sub/b.png", "images/sub/b.png"),
                          ("link_to_images/sub/z_other/c.png", "other/c.png"),
                          ("link_to_images/sub/z_other/hard.png", "other/hard.png")]
    out = tmp_path / "boxes.json"
    res = CliRunner().invoke(cli, mb_args(root, out, tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")))
    assert res.exit_code == 0, res.output
    assert f"note: {root}: 6 images reached a second time through a link to a folder are left out, each image " \
        "being run once, under the name after '=' (the one reached without a link to a folder, else the first by " \
        "name): images/sub/z_other/c.png (= other/c.png), images/sub/z_other/hard.png (= other/hard.png), " \
        "link_to_images/a.png (= images/a.png) …" in res.output, res.output
    assert [im["file_name"] for im in json.loads(out.read_text())["images"]] == names


def test_the_note_on_a_folder_reached_twice_names_the_rule(tmp_path):
    """fix65: the note said "through a symbolic link" (two symbolic links to one file are two images, trial 64: the
    rule is a link to a folder) and "under its name without the link", also where both names are reached through
    one (a/ and b/ linking to one folder: it runs as a/…, the first by name)."""
    root = tmp_path / "data"
    blocky(tmp_path / "store" / "p.png", 90, 70)
    root.mkdir()
    for name in ("b", "a"):
        os.symlink("../store", root / name)
    res = CliRunner().invoke(cli, mb_args(root, tmp_path / "o.json", tiny_model(tmp_path / "m.pt"),
                                          tiny_multibox(tmp_path / "mb.pt")))
    assert res.exit_code == 0, res.output
    assert f"note: {root}: 1 image reached a second time through a link to a folder is left out, each image being " \
        "run once, under the name after '=' (the one reached without a link to a folder, else the first by name): " \
        "b/p.png (= a/p.png)" in res.output, res.output
    assert "symbolic link" not in res.output


def test_a_list_naming_a_file_again_through_a_link_is_refused(tmp_path):
    root = _tree(tmp_path)
    listed = tmp_path / "list.txt"
    listed.write_text("data/images/a.png\ndata/other/hard.png\ndata/link_to_images/a.png\n")
    res = CliRunner().invoke(cli, mb_args(listed, tmp_path / "o.json", tiny_model(tmp_path / "m.pt"),
                                          tiny_multibox(tmp_path / "mb.pt")))
    assert res.exit_code == 1, res.output
    assert f"{listed}:3: data/link_to_images/a.png is the file of line 1 (data/images/a.png), reached through a " \
        f"symbolic link to its folder (both are {root / 'images' / 'a.png'}); each image once, please" in res.output, \
        res.output
    listed.write_text("data/images/a.png\ndata/other/c.png\ndata/other/hard.png\n")  # hard links: two files
    assert [i.name for i in scan_images(listed)] == ["images/a.png", "other/c.png", "other/hard.png"]


def _cache_tree(tmp_path):
    root = tmp_path / "data"
    blocky(root / "cache" / "ab12", 100, 80, seed=1, format="PNG")  # one file, two names (as DVC links them)
    blocky(root / "images" / "z.png", 90, 70, seed=2)
    for name in ("x.png", "y.png"):
        os.symlink("../cache/ab12", root / "images" / name)
    (root / "images" / "a").mkdir()
    os.symlink("..", root / "images" / "a" / "up")  # a loop, reached again through the link below
    os.symlink("nowhere.png", root / "images" / "a" / "broken.png")
    os.symlink("a", root / "images" / "alias")  # a folder link back into the tree
    return root


def test_two_links_to_one_file_are_two_images(tmp_path):
    root = _cache_tree(tmp_path)
    duplicates = []
    inputs = scan_images(root / "images", duplicates)
    assert [(i.name, i.problem is None) for i in inputs] == [("a/broken.png", False), ("a/up", False),
                                                             ("x.png", True), ("y.png", True), ("z.png", True)]
    assert duplicates == []  # alias/broken.png and alias/up are a/'s entries: listed once, not noted as images
    out = tmp_path / "boxes.json"
    res = CliRunner().invoke(cli, mb_args(root / "images", out, tiny_model(tmp_path / "m.pt"),
                                          tiny_multibox(tmp_path / "mb.pt")))
    assert res.exit_code == 0, res.output
    assert "left out" not in res.output, res.output
    doc = json.loads(out.read_text())
    assert [im["file_name"] for im in doc["images"]] == ["x.png", "y.png", "z.png"]
    assert [e["file_name"] for e in doc["errors"]] == ["a/broken.png", "a/up"]
    ids = {im["file_name"]: im["id"] for im in doc["images"]}
    boxes = {name: sorted((d["category_id"], d["bbox"], d["score"]) for d in doc["detections"]
                          if d["image_id"] == i) for name, i in ids.items()}
    assert boxes["x.png"] == boxes["y.png"]  # one picture under two names
    listed = tmp_path / "list.txt"  # a list naming both links: two images, as the folder gives them
    listed.write_text("data/images/x.png\ndata/images/y.png\n")
    assert [i.name for i in scan_images(listed)] == ["x.png", "y.png"]
