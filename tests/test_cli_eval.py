import json

from click.testing import CliRunner

from cli.main import cli
from helpers import ilsvrc_xml


def setup(tmp_path):
    d = tmp_path / "xml"
    d.mkdir()
    (d / "a.xml").write_text(ilsvrc_xml("a", 100, 100, [("n00007846", 0, 0, 49, 49), ("n00007846", 60, 60, 89, 89)]))
    (d / "b.xml").write_text(ilsvrc_xml("b", 100, 100, [("n02084071", 10, 10, 59, 59)]))
    lst = tmp_path / "list.txt"
    lst.write_text("a 1\nb 2\n")
    sub = tmp_path / "sub.txt"
    sub.write_text("1 124 0.9 0 0 49 49\n1 124 0.8 0 0 49 49\n2 58 0.7 10 10 59 59\n")
    return d, lst, sub


def test_eval_ilsvrc_text_end_to_end(tmp_path):
    d, lst, sub = setup(tmp_path)
    out, png = tmp_path / "r.json", tmp_path / "pr.png"
    res = CliRunner().invoke(cli, ["eval", "--gt", str(d), "--pred", str(sub), "--image-list", str(lst),
                                   "--json", str(out), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "person" in res.output and "ilsvrc mAP 0.7500" in res.output
    r = json.loads(out.read_text())
    assert r["metric"] == "ilsvrc" and r["mAP"] == 0.75 and r["median_AP"] == 0.75
    person = next(c for c in r["per_class"] if c["name"] == "person")
    assert person == {"id": 124, "wnid": "n00007846", "name": "person", "AP": 0.5, "num_gt": 2, "num_det": 2}
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_eval_voc_and_blacklist(tmp_path):
    d, lst, sub = setup(tmp_path)
    bl = tmp_path / "bl.txt"
    bl.write_text("2 n02084071\n")
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["eval", "--gt", str(d), "--pred", str(sub), "--image-list", str(lst),
                                   "--metric", "voc07", "--blacklist", str(bl), "--json", str(out)])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert r["metric"] == "voc07" and [c["name"] for c in r["per_class"]] == ["person"]


def test_eval_bad_input_exit_codes(tmp_path):
    d, lst, sub = setup(tmp_path)
    res = CliRunner().invoke(cli, ["eval", "--gt", str(d), "--pred", str(sub)])  # no image list for text
    assert res.exit_code == 1 and "--image-list" in res.output
    sub.write_text("1 124 0.9 0 0 49 49\n1 124 zero 0 0 49 49\n")
    res = CliRunner().invoke(cli, ["eval", "--gt", str(d), "--pred", str(sub), "--image-list", str(lst)])
    assert res.exit_code == 1 and "sub.txt:2" in res.output
    res = CliRunner().invoke(cli, ["eval", "--gt", str(tmp_path / "none"), "--pred", str(sub)])
    assert res.exit_code == 2


def test_eval_model_classes_only(tmp_path):
    d, lst, sub = setup(tmp_path)
    sub.write_text("1 124 0.9 0 0 49 49\n")  # a model that only ever predicts person
    out = tmp_path / "r.json"
    base = ["eval", "--gt", str(d), "--pred", str(sub), "--image-list", str(lst), "--json", str(out)]
    assert CliRunner().invoke(cli, base).exit_code == 0
    assert json.loads(out.read_text())["mAP"] == 0.25  # person 0.5, dog 0
    assert CliRunner().invoke(cli, base + ["--model-classes-only"]).exit_code == 0
    r = json.loads(out.read_text())
    assert r["mAP"] == 0.5 and [c["name"] for c in r["per_class"]] == ["person"]


# ------------------------------------------------------------------------------------------------ user trial
def coco_gt(tmp_path, annotations, name="ann.json"):
    gt = tmp_path / name
    gt.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
                   {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}]}))
    return gt


def test_eval_refuses_gt_boxes_of_unknown_categories(tmp_path):
    # the box of category 99 was left out with a warning nobody saw: the metric ran on 12 of 13 objects
    anns = [{"id": k + 1, "image_id": 1, "category_id": 1, "bbox": [k, k, 10, 10], "iscrowd": 0, "area": 100}
            for k in range(12)]
    anns.append({"id": 13, "image_id": 2, "category_id": 99, "bbox": [5, 5, 10, 10], "iscrowd": 0, "area": 100})
    gt = coco_gt(tmp_path, anns)
    pred = tmp_path / "res.json"
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]))
    message = "ann.json: annotations[12] (id 13): category_id 99 is not among the file's categories (ids 1, 2)"
    for metric in ("ilsvrc", "coco"):
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--metric", metric])
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert res.output.startswith("Error: ") and message in res.output
    # detect inspect lists the same message, as an error
    res = CliRunner().invoke(cli, ["inspect", str(gt), "--no-image-check"])
    assert res.exit_code == 0 and f"[error] {gt}: annotations[12] (id 13): category_id 99" in res.output
