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
