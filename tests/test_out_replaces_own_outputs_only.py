"""Trial 64: `detect run --out F` replaced any existing text file F — a COCO ground truth that is not one of the
inputs, someone's notes.txt —, while `detect proposals --out` refused a file that is not its own output. One rule
(cli.common.refuse_replacing_others) for the --out of run, merge and proposals: an existing file is replaced only
when it is an earlier output of that command (boxes.json, COCO results, ILSVRC submission text; a proposals file),
else refused naming the file and what it looks like, the file kept."""

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from test_cli_run import blocky, mb_args, tiny_model, tiny_multibox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_run_merge_and_proposals_replace_their_own_outputs_alone(tmp_path):
    imgs = tmp_path / "imgs"
    for k in range(2):
        blocky(imgs / f"{k}.png", 90, 70, seed=k)
    model, mb = tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")
    gt = tmp_path / "gt.json"
    gt.write_bytes((SAMPLES / "annotations.json").read_bytes())
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")

    def invoke(*args):
        return CliRunner().invoke(cli, list(map(str, args)))

    refusals = {"run": lambda out: invoke(*mb_args(imgs, out, model, mb)),
                "merge": lambda out: invoke("merge", tmp_path / "s1.json", tmp_path / "s2.json", "--out", out),
                "proposals": lambda out: invoke("proposals", imgs, "--out", out, "--method", "multibox", "--multibox",
                                                mb, "--no-cache")}
    for k in (1, 2):  # the shards to merge (0/2 and 1/2)
        assert invoke(*mb_args(imgs, tmp_path / f"s{k}.json", model, mb, "--shard", f"{k - 1}/2")).exit_code == 0
    assert invoke(*mb_args(imgs, tmp_path / "boxes.json", model, mb)).exit_code == 0
    ours = "a boxes.json of `detect run`, a COCO results list or an ILSVRC submission text"
    for cmd, call in refusals.items():
        kinds = "a proposals output of `detect proposals`" if cmd == "proposals" else ours
        for path, looks in ((gt, "a COCO dataset (JSON with images and annotations)"),
                            (notes, "text beginning 'my notes'"),
                            *([(tmp_path / "boxes.json", "a boxes.json of `detect run`")] if cmd == "proposals"
                              else [])):
            before = path.read_bytes()
            res = call(path)
            assert res.exit_code == 1 and f"--out {path} exists and is {looks}, not an earlier output of this " \
                f"command ({kinds}): it would be replaced; give another path, or delete it first" in res.output, \
                (cmd, res.output)
            assert path.read_bytes() == before, cmd

    # an earlier output is replaced, in every format, over its own and over another format's
    out = tmp_path / "out.json"
    for fmt in ("json", "json", "coco", "coco", "ilsvrc", "ilsvrc", "json"):
        res = invoke(*mb_args(imgs, out, model, mb, "--format", fmt))
        assert res.exit_code == 0, (fmt, res.output)
        res = invoke("merge", tmp_path / "s1.json", tmp_path / "s2.json", "--out", tmp_path / "merged.json",
                     "--format", fmt)
        assert res.exit_code == 0, (fmt, res.output)
    assert json.loads(out.read_text())["images"][0]["file_name"] == "0.png"
    res = invoke(*mb_args(imgs, out, model, mb, "--resume"))  # a finished output resumed: nothing to redo
    assert res.exit_code == 0, res.output
    proposals = tmp_path / "proposals.json"
    for _ in range(2):
        res = refusals["proposals"](proposals)
        assert res.exit_code == 0, res.output
    res = refusals["run"](proposals)  # the other command's output is not this one's to replace
    assert res.exit_code == 1 and "exists and is a proposals output of `detect proposals`, not an earlier output" \
        in res.output, res.output
    empty = tmp_path / "empty.json"  # an empty file holds nothing to lose
    empty.write_text("")
    assert refusals["run"](empty).exit_code == 0


def test_earlier_outputs_saved_again_by_another_tool_are_recognised(tmp_path):
    """Trial 65 (fix65): an earlier output was told by how the file begins alone, so a boxes.json saved again with
    sorted keys and another indent, or COCO results whose first key is not image_id (detectron2, mmdetection), were
    refused as someone's file; a JSON file whose head does not decide is now told by its structure
    (boxes_json.output_format_of). A COCO ground truth, annotations without scores, a proposals file, an object
    without a model, and JSON nested too deep to read (a traceback before) stay refused, each file kept."""
    imgs = tmp_path / "imgs"
    for k in range(2):
        blocky(imgs / f"{k}.png", 90, 70, seed=k)
    model, mb = tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")

    def invoke(*args):
        return CliRunner().invoke(cli, list(map(str, args)))

    for k in (1, 2):  # the shards to merge (0/2 and 1/2)
        assert invoke(*mb_args(imgs, tmp_path / f"s{k}.json", model, mb, "--shard", f"{k - 1}/2")).exit_code == 0
    doc, results = tmp_path / "boxes.json", tmp_path / "results.json"
    assert invoke(*mb_args(imgs, doc, model, mb)).exit_code == 0
    assert invoke(*mb_args(imgs, results, model, mb, "--format", "coco")).exit_code == 0
    resaved = {"json": json.dumps(json.loads(doc.read_text()), sort_keys=True, indent=2),
               "coco": "\ufeff" + json.dumps([{k: r[k] for k in ("bbox", "category_id", "image_id", "score")}
                                              for r in json.loads(results.read_text())])}
    assert not resaved["json"].startswith('{\n  "model"') and resaved["coco"].startswith('\ufeff[{"bbox"')
    for fmt, text in resaved.items():
        for cmd in ("run", "merge"):
            out = tmp_path / f"{cmd}_{fmt}.json"
            out.write_text(text, encoding="utf-8")
            res = invoke(*mb_args(imgs, out, model, mb, "--format", fmt)) if cmd == "run" else \
                invoke("merge", tmp_path / "s1.json", tmp_path / "s2.json", "--out", out, "--format", fmt)
            assert res.exit_code == 0, (cmd, fmt, res.output)
            assert out.read_text() != text, (cmd, fmt)  # replaced by this command's output

    gt = json.loads((SAMPLES / "annotations.json").read_text())
    proposals = tmp_path / "proposals.json"
    assert invoke("proposals", imgs, "--out", proposals, "--method", "multibox", "--multibox", mb,
                  "--no-cache").exit_code == 0
    others = {"gt.json": (json.dumps(gt, sort_keys=True, indent=2),
                          "a COCO dataset (JSON with images and annotations)"),
              "anns.json": (json.dumps(gt["annotations"]), "a JSON list"),
              "proposals.json": (json.dumps(json.loads(proposals.read_text()), sort_keys=True),
                                 "a proposals output of `detect proposals`"),
              "no_model.json": (json.dumps({"images": [], "detections": []}), "JSON with the keys images, detections"),
              "deep.json": ("[" * 100_000, "JSON")}
    for name, (text, looks) in others.items():
        path = tmp_path / name
        path.write_text(text)
        for res in (invoke(*mb_args(imgs, path, model, mb)),
                    invoke("merge", tmp_path / "s1.json", tmp_path / "s2.json", "--out", path)):
            assert res.exit_code == 1 and f"--out {path} exists and is {looks}, not an earlier output" in res.output, \
                (name, res.output)
            assert path.read_text() == text, name


def test_files_beside_out_follow_the_rule_of_out(tmp_path, monkeypatch):
    """fix65: the image list and job record written beside --out had rules of their own — the list's first line
    alone (notes after a blank first line were replaced; a list of `name<TAB>index` lines, as read_image_list reads
    it, was refused), and a file that could not be read was replaced unread. Now --out's rule
    (cli.common._existing_head): white space alone, or one of its kind (boxes_json.beside_file_of), is replaced; a
    file that cannot be read is refused and kept."""
    import builtins

    imgs = tmp_path / "imgs"
    blocky(imgs / "0.png", 90, 70)
    model, mb = tiny_model(tmp_path / "m.pt"), tiny_multibox(tmp_path / "mb.pt")

    def run(out, fmt="ilsvrc"):
        return CliRunner().invoke(cli, mb_args(imgs, out, model, mb, "--format", fmt))

    notes = tmp_path / "a.images.txt"
    notes.write_text("\nmy notes on these images\n")
    res = run(tmp_path / "a.txt")
    assert res.exit_code == 1 and f"{notes} is a file that is not an image list (`name index` lines), where " \
        f"--format ilsvrc writes the image list of --out {tmp_path / 'a.txt'}" in res.output, res.output
    assert notes.read_text() == "\nmy notes on these images\n"
    for listed in ("x.jpg\t1\ny.jpg\t2\n", " \n\n"):  # an image list (tabs, as the devkit's reader splits), blank
        (tmp_path / "b.images.txt").write_text(listed)
        res = run(tmp_path / "b.txt")
        assert res.exit_code == 0, (listed, res.output)
        assert (tmp_path / "b.images.txt").read_text() == "0.png 1\n"

    record = tmp_path / "c.json.job.json"
    record.write_text('{"my": "record"}')
    real_open = builtins.open

    def unreadable(file, *args, **kwargs):
        if str(file) == str(record):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", unreadable)  # as a file of another user's (root reads every file)
    res = run(tmp_path / "c.json", "coco")
    monkeypatch.undo()
    assert res.exit_code == 1 and f"{record} is a file that cannot be read (Permission denied), where --format coco " \
        "writes the job record of --out" in res.output, res.output
    assert record.read_text() == '{"my": "record"}' and not (tmp_path / "c.json").exists()
