"""Trial 61: a folder reached twice through a symbolic link (`images/` and `link_to_images/` beside it, or a link to
a sibling folder inside) ran the same files twice, under two names. A folder's file reached a second time through a
link is now left out, with one note naming it and the name it runs under (the one without a link); hard links stay
files of their own. A list naming one file twice, the second time through a link, is refused as a file listed
twice is."""

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
    assert f"note: {root}: 6 images reached a second time through a symbolic link are left out, each image being " \
        "run once, under its name without the link: images/sub/z_other/c.png (= other/c.png), " \
        "images/sub/z_other/hard.png (= other/hard.png), link_to_images/a.png (= images/a.png) …" in res.output, \
        res.output
    assert [im["file_name"] for im in json.loads(out.read_text())["images"]] == names


def test_a_list_naming_a_file_again_through_a_link_is_refused(tmp_path):
    root = _tree(tmp_path)
    listed = tmp_path / "list.txt"
    listed.write_text("data/images/a.png\ndata/other/hard.png\ndata/link_to_images/a.png\n")
    res = CliRunner().invoke(cli, mb_args(listed, tmp_path / "o.json", tiny_model(tmp_path / "m.pt"),
                                          tiny_multibox(tmp_path / "mb.pt")))
    assert res.exit_code == 1, res.output
    assert f"{listed}:3: data/link_to_images/a.png is the file of line 1 (data/images/a.png), reached through a " \
        f"symbolic link (both lead to {root / 'images' / 'a.png'}); each image once, please" in res.output, res.output
    listed.write_text("data/images/a.png\ndata/other/c.png\ndata/other/hard.png\n")  # hard links: two files
    assert [i.name for i in scan_images(listed)] == ["images/a.png", "other/c.png", "other/hard.png"]
