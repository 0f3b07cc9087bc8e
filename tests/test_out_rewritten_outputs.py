"""Review of trial 64's rule (cli.common.refuse_replacing_others): `detect run --out F` replaces F only when it is an
earlier output. An output that another tool wrote again — its keys sorted (`jq -S`, `json.dump(sort_keys=True)`),
saved with a byte-order mark or as UTF-16 by a Windows editor — is still one, as `detect eval` reads it: each was
refused as "JSON with the keys categories, …", "a JSON list" or "text beginning '\\ufeff{"model"…'", not an earlier
output. Someone's files stay refused."""

import codecs
import json

import click
import pytest

from cli.common import RUN_OUTPUTS, refuse_replacing_others
from detector.data import boxes_json
from test_eval_formats import samples_boxes_json


def _outputs(tmp_path):
    doc = samples_boxes_json()
    for fmt in RUN_OUTPUTS:
        boxes_json.write(tmp_path / f"out.{fmt}", doc, fmt)
    return {fmt: (tmp_path / f"out.{fmt}").read_bytes() for fmt in RUN_OUTPUTS}


def test_an_output_rewritten_by_another_tool_is_still_one(tmp_path):
    ours = _outputs(tmp_path)
    boxes, coco = json.loads(ours["json"]), json.loads(ours["coco"])
    variants = {
        "sorted.json": json.dumps(boxes, sort_keys=True, indent=2).encode(),
        "bom.json": codecs.BOM_UTF8 + ours["json"],
        "utf16.json": ours["json"].decode().encode("utf-16"),
        "utf16le.json": ours["json"].decode().encode("utf-16-le"),
        "crlf.json": json.dumps(boxes, indent=1).replace("\n", "\r\n").encode(),
        "coco_sorted.json": json.dumps(coco, sort_keys=True).encode(),
        "coco_mmdet.json": json.dumps([{"image_id": d["image_id"], "bbox": d["bbox"], "score": d["score"],
                                        "category_id": d["category_id"]} for d in coco], indent=4).encode(),
        "ilsvrc_bom.txt": codecs.BOM_UTF8 + ours["ilsvrc"],
        "ilsvrc_crlf.txt": ours["ilsvrc"].replace(b"\n", b"\r\n"),
    }
    for name, content in variants.items():
        path = tmp_path / name
        path.write_bytes(content)
        refuse_replacing_others("--out", path, RUN_OUTPUTS)  # no refusal
    assert boxes_json.output_format_of(json.dumps(boxes, sort_keys=True).encode()[:200]) is None  # the head alone
    assert boxes_json.output_format_of(b"", boxes) == "json" and boxes_json.output_format_of(b"", coco) == "coco"


@pytest.mark.parametrize("content,looks", [
    (json.dumps({"images": [], "annotations": [], "categories": []}, sort_keys=True).encode(),
     "a COCO dataset (JSON with images and annotations)"),
    (codecs.BOM_UTF8 + b'{"a": 1}', "JSON with the keys a"),
    (json.dumps([{"bbox": [0, 0, 1, 1], "image_id": 1}]).encode(), "a JSON list"),  # no score, no category
    (codecs.BOM_UTF8 + b"my notes\n", "text beginning 'my notes'"),
    ("\u00a0\n".encode(), "blank text"),
])
def test_someone_elses_file_stays_refused(tmp_path, content, looks):
    path = tmp_path / "f.json"
    path.write_bytes(content)
    with pytest.raises(click.ClickException, match="exists and is " + looks.replace("(", r"\(").replace(")", r"\)")
                       + ", not an earlier output"):
        refuse_replacing_others("--out", path, RUN_OUTPUTS)
    assert path.read_bytes() == content


def test_proposals_out_names_a_rewritten_boxes_json_for_what_it_is(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(json.loads(_outputs(tmp_path)["json"]), sort_keys=True))
    with pytest.raises(click.ClickException, match="exists and is a boxes.json of `detect run`, not an earlier"):
        refuse_replacing_others("--out", path, ("proposals",))


def test_a_rewritten_proposals_output_is_still_one(tmp_path):
    path = tmp_path / "proposals.json"
    path.write_text(json.dumps({"method": "ss", "box_format": "xyxy", "images": [], "errors": [], "settings": {}},
                               sort_keys=True, indent=2))
    refuse_replacing_others("--out", path, ("proposals",))  # no refusal
    with pytest.raises(click.ClickException, match="exists and is a proposals output of `detect proposals`, not an"):
        refuse_replacing_others("--out", path, RUN_OUTPUTS)
