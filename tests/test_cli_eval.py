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
    assert person == {"id": 124, "category_id": None, "wnid": "n00007846", "name": "person", "AP": 0.5, "num_gt": 2,
                      "num_det": 2}
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_submission_text_for_several_ground_truths_says_to_give_one(tmp_path):
    # trial 33: "pass --image-list", then with it "it applies to one ground truth": a circle
    d, lst, sub = setup(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.xml").write_text(ilsvrc_xml("c", 100, 100, [("n00007846", 0, 0, 49, 49)]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(d), "--gt", str(other), "--pred", str(sub)])
    assert res.exit_code == 1 and "scored against one ground truth at a time: give its --gt alone, with " \
        "--image-list" in res.output and "pass --image-list" not in res.output, res.output


def test_an_image_list_that_nothing_uses_is_noted(tmp_path):
    # trial 34: --image-list with COCO ground truth and a boxes.json was ignored without a word, even a PNG
    from helpers import write_coco

    gt = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 50}],
                    [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 20, 20]}], [{"id": 1, "name": "person"}])
    pred = tmp_path / "r.json"
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 20, 20], "score": 0.9}]))
    lst = tmp_path / "list.txt"
    lst.write_text("bogus 1\n")
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--image-list", str(lst)])
    assert res.exit_code == 0 and f"note: --image-list {lst} is not used" in res.output, res.output


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


def test_eval_notes_blacklist_lines_that_match_nothing(tmp_path):
    """A blacklist whose lines name no ground-truth image, or a wnid that is no class of the ground truth, left
    nothing out without a word: a note says how many lines and which (the devkit takes them: not refused)."""
    d, _, sub = setup(tmp_path)
    lst = tmp_path / "list3.txt"
    lst.write_text("a 1\nb 2\nc 3\n")  # c: no XML
    bl = tmp_path / "bl.txt"
    base = ["eval", "--gt", str(d), "--pred", str(sub), "--image-list", str(lst), "--blacklist", str(bl)]
    bl.write_text("2 n02084071\n3 n00007846\n1 n99999999\n\n1 n88888888\n")
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0, res.output
    assert (f"note: --blacklist {bl}: 3 of its 4 lines match nothing in the ground truth {d}, and leave nothing "
            f"out: index 3 is no image of it (by --image-list {lst}); 2 wnids are no class of it: n99999999, "
            "n88888888") in res.output, res.output
    bl.write_text("3 n00007846\n")
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0 and f"note: --blacklist {bl}: its one line matches nothing" in res.output, res.output
    bl.write_text("2 n02084071\n1 n00007846\n")  # every line of the ground truth: no note
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0 and "--blacklist" not in res.output, res.output


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


def boxes_json(path, names, detections, categories=({"id": 124, "wnid": "n00007846", "name": "person"},)):
    """A boxes.json of images ``names`` (ids 1..) with ``detections`` [(image id, category id)]."""
    path.write_text(json.dumps({
        "images": [{"id": k + 1, "file_name": n, "width": 100, "height": 100} for k, n in enumerate(names)],
        "categories": list(categories),
        "detections": [{"image_id": i, "category_id": c, "bbox": [10, 10, 20, 20], "score": 0.5}
                       for i, c in detections]}))
    return path


def test_eval_refuses_when_no_prediction_is_of_a_gt_image(tmp_path):
    # every prediction left out (run on another folder, or names the ground truth does not use): it printed mAP 0
    # and exited 0 with a note
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}])
    pred = boxes_json(tmp_path / "boxes.json", ["c.jpg", "d.jpg", "e.jpg", "f.jpg"],
                      [(1, 124), (2, 124), (3, 124), (4, 124), (4, 124)])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert (f"Error: {pred}: nothing to evaluate: all 5 predictions are left out: none of its 4 images ('c.jpg', "
            f"'d.jpg', 'e.jpg' and 1 more) is an image of the ground truth {gt} (2 images, named like 'a.jpg', "
            "'b.jpg'); images are matched by file name") in res.output
    # COCO results: by file_name, and by image_id where they have no file_name
    res_json = tmp_path / "res.json"
    res_json.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5,
                                     "file_name": "cam_b/z.png"}]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(res_json)])
    assert res.exit_code == 1 and "its one prediction is left out: its image 'cam_b/z.png' is not an image of the " \
        "ground truth" in res.output
    res_json.write_text(json.dumps([{"image_id": i, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}
                                    for i in (7, 8, 8)]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(res_json)])
    assert res.exit_code == 1 and ("all 3 predictions are left out: its images are given by image_id only (no "
                                   "'file_name'), and none of its 2 ids (7, 8) is an image id of the ground truth "
                                   f"{gt} (its ids: 1, 2)") in res.output
    # some on ground-truth images: evaluated, the others left out with a note, as before
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "d.jpg"], [(1, 124), (2, 124)])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 0 and "note: left out: 1 prediction on 1 image not in the ground truth" in res.output


def test_eval_refuses_when_no_prediction_is_of_a_gt_class(tmp_path):
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}])
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "b.jpg"], [(1, 1001), (2, 1002)],
                      [{"id": 1001, "wnid": None, "name": "giraffe"}, {"id": 1002, "wnid": None, "name": "zebra"}])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert (f"Error: {pred}: nothing to evaluate: all 2 predictions are left out: none of its 2 classes ('giraffe', "
            f"'zebra') is a class of the ground truth {gt} (2 classes: 'person', 'dog')") in res.output
    res_json = tmp_path / "res.json"  # ILSVRC det_ids (no category of the file): 58 is dog, 1 accordion
    res_json.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5,
                                     "file_name": "a.jpg", "category_name": "accordion", "wnid": "n02672831"}]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(res_json)])
    assert res.exit_code == 1 and "its one prediction is left out: its class 'accordion' is not a class of " \
        "the ground truth" in res.output


def test_eval_of_a_detector_that_found_nothing(tmp_path):
    # no predictions made (the detector found nothing) is no mistake: AP 0, exit 0, said so
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}])
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "b.jpg"], [])
    for metric in ("ilsvrc", "coco"):
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--metric", metric])
        assert res.exit_code == 0, res.output
        assert f"note: {pred} holds no predictions on its 2 images (the detector found nothing)" in res.output
        assert f"{metric} mAP 0.0000" in res.output
    res_json = tmp_path / "res.json"
    res_json.write_text("[]")
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(res_json)])
    assert res.exit_code == 0 and f"note: {res_json} holds no predictions (the detector" in res.output
    # it found something, but only on images that are not ground-truth ones: still AP 0 on a.jpg and b.jpg
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "b.jpg", "x.jpg"], [(3, 124)])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 0 and "ilsvrc mAP 0.0000" in res.output
    # ... but a run on other images altogether, which found nothing, is the wrong file
    pred = boxes_json(tmp_path / "boxes.json", ["x.jpg", "y.jpg"], [])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 1 and (f"{pred}: nothing to evaluate: none of its 2 images ('x.jpg', 'y.jpg') is an "
                                   "image of the ground truth") in res.output


def test_eval_refuses_ground_truth_without_objects(tmp_path):
    # user trial: `detect eval --gt boxes.json --pred boxes.json` read the run's output as COCO without annotations and
    # printed mAP 0 with exit 0
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "b.jpg"], [(1, 124)])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(pred), "--pred", str(pred)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "it is a `detect run` output (boxes.json: 'detections', no 'annotations'), not ground truth: `detect eval` " \
        "takes it as --pred" in res.output, res.output
    # trial 67: a COCO results list as ground truth was "expected an object with 'images' and 'categories' lists, got
    # list"; trial 68: in `detect train`, "give it as --pred" named an option train has not
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"bbox": [1, 2, 3, 4], "category_id": 1, "image_id": 1, "score": 0.5}]))
    for argv in (["eval", "--gt", str(results), "--pred", str(pred)],
                 ["train", "classifier", "--gt", str(results), "--out", str(tmp_path / "m.pt")]):
        res = CliRunner().invoke(cli, argv)
        assert res.exit_code != 0 and "Traceback" not in res.output, res.output
        assert "it is a COCO results list (detections with scores, no images or categories), not ground truth: " \
            "`detect eval` takes it as --pred" in res.output, res.output
    res = CliRunner().invoke(cli, ["inspect", str(pred), "--strict"])
    assert res.exit_code != 0 and "not ground truth" in res.output
    # a COCO file whose images have no objects at all: nothing to evaluate
    gt = coco_gt(tmp_path, [])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 1 and f"{gt}: the ground truth holds no objects (2 images, no boxes)" in res.output


def test_eval_refuses_predictions_on_images_of_another_size(tmp_path):
    # user trial: detections of the resized sample copies scored against the original Penn-Fudan annotations (same
    # names, other pixels) gave person AP 0.003 and exit 0
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}])
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "b.jpg"], [(1, 124), (2, 124)])
    doc = json.loads(pred.read_text())
    doc["images"][1].update(width=50, height=40)
    pred.write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert (f"Error: {pred}: 1 of its images is not the size the ground truth {gt} gives its image of the same name, "
            "so the boxes are in other pixels: b.jpg 50x40 (ground truth: b.jpg 100x100)") in res.output
    doc["images"][1].update(width=100, height=100)  # the same size: evaluated
    pred.write_text(json.dumps(doc))
    assert CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)]).exit_code == 0


def test_eval_notes_ground_truth_images_the_run_left_out(tmp_path):
    # user trial: a 10-image run scored against a 130-image ground truth said nothing: the other images' objects
    # counted as missed (as the devkit and pycocotools count them; kept, but said)
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20]},
                            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [50, 50, 20, 20]}])
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg"], [(1, 124)])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 0, res.output
    assert (f"note: 1 image of the ground truth's 2 is not among the images {pred} ran on (e.g. b.jpg): its 2 objects "
            "(difficult and crowd ones aside) count as missed") in res.output
    assert "ilsvrc mAP 0.3333" in res.output  # 1 of 3 people found, at full precision
    only_a = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}], "a_only.json")
    res = CliRunner().invoke(cli, ["eval", "--gt", str(only_a), "--pred", str(pred)])  # b.jpg has nothing to find
    assert res.exit_code == 0 and "not among the images" not in res.output
    assert "with positives, 2 images, 1 prediction, " in res.output  # not "1 predictions" (user trial)
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "b.jpg"], [(1, 124)])  # both run: no note
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 0 and "not among the images" not in res.output
    # a crowd region is not counted among the missed objects; "iscrowd": null is 0 under both metrics (pycocotools
    # itself cannot take null: user trial)
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": None},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": 1},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [50, 50, 20, 20]}]
    gt = coco_gt(tmp_path, anns)
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg"], [(1, 124)])
    for metric in ("ilsvrc", "coco"):
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--metric", metric])
        assert res.exit_code == 0 and "Traceback" not in res.output, res.output
        assert "(e.g. b.jpg): its 1 object (difficult" in res.output
        assert ("1 of the 3 ground-truth annotations has 'iscrowd' null (taken as 0" in res.output) == (
            metric == "coco")  # said as it is, not "no 'iscrowd'", and in the singular (user trials)
        assert "(1 class with positives" in res.output  # one class, in the singular


def test_the_note_on_images_not_run_counts_the_objects_of_the_classes_scored(tmp_path):
    # trial 63 (fix63): with --model-classes-only the note still counted every class's objects, "(fewer with
    # --model-classes-only)" said beside the very flag
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20]},
                            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [50, 50, 20, 20]},
                            {"id": 4, "image_id": 2, "category_id": 2, "bbox": [60, 60, 20, 20]}])
    results = tmp_path / "res.json"  # person results on a.jpg alone: b.jpg has no result
    results.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}]))
    boxes = boxes_json(tmp_path / "boxes.json", ["a.jpg"], [(1, 124)])  # run on a.jpg alone
    for pred, head in ((results, "if the detector did not run on it, its "), (boxes, "(e.g. b.jpg): its ")):
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
        assert res.exit_code == 0, res.output
        assert f"{head}3 objects (difficult and crowd ones aside) count as missed" in res.stderr, res.stderr
        assert "fewer with" not in res.stderr
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--model-classes-only"])
        assert res.exit_code == 0, res.output
        assert (f"{head}1 object of the classes scored (difficult and crowd ones aside; --model-classes-only) counts "
                "as missed") in res.stderr, res.stderr
    # with --model-classes-only, a left-out image holding no object of the classes scored is no loss: no note
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [50, 50, 20, 20]}], "dogs_on_b.json")
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(boxes), "--model-classes-only"])
    assert res.exit_code == 0 and "not among the images" not in res.output, res.output
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(boxes)])
    assert res.exit_code == 0 and "its 1 object (difficult and crowd ones aside) counts as missed" in res.output


def test_eval_without_positives_gives_no_mAP(tmp_path):
    # user trial: every object a crowd region (or difficult): "mAP 0.0000" as if the detector had failed
    gt = coco_gt(tmp_path, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": 1}])
    pred = boxes_json(tmp_path / "boxes.json", ["a.jpg", "b.jpg"], [(1, 124), (2, 124)])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 0, res.output
    assert "ilsvrc mAP -  median AP -  (0 classes with positives" in res.output
    assert "note: no class has positives (every object is difficult or a crowd region)" in res.output


def test_eval_table_shows_the_coco_ground_truths_own_category_ids(tmp_path):
    """Trial: the per-class `id` column showed ILSVRC det_ids for COCO ground truth, where the user knows the file's
    own category ids; --json keeps the det_id under `id` and adds the file's under `category_id`."""
    from helpers import write_coco

    gt = write_coco(tmp_path / "gt.json", [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 100}],
                    [{"id": 1, "image_id": 7, "category_id": 18, "bbox": [10, 10, 40, 40]},
                     {"id": 2, "image_id": 7, "category_id": 1, "bbox": [50, 50, 30, 30]}],
                    [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}])
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([{"image_id": 7, "category_id": 18, "bbox": [10, 10, 40, 40], "score": 0.9}]))
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--json", str(out)])
    assert res.exit_code == 0, res.output
    rows = {line.split()[1]: line.split()[0] for line in res.output.splitlines()
            if line.split()[1:2] in (["person"], ["dog"])}
    assert rows == {"person": "1", "dog": "18"}, res.output
    by_name = {c["name"]: c for c in json.loads(out.read_text())["per_class"]}
    assert (by_name["dog"]["id"], by_name["dog"]["category_id"]) == (58, 18)
    assert (by_name["person"]["id"], by_name["person"]["category_id"]) == (124, 1)


def test_eval_prints_the_readers_warnings(tmp_path):
    """User trial: `detect eval` never said what the ground-truth reader read anyway (a <difficult>maybe</difficult>
    read as 1 changed mAP silently); `detect inspect` did. The first five are printed, then how many more."""
    from helpers import voc_xml

    d = tmp_path / "voc"
    d.mkdir()
    for k in range(7):
        (d / f"im{k}.xml").write_text(voc_xml(f"im{k}.jpg", 100, 80, [("person", 1, 1, 40, 60, "maybe")]))
    pred = tmp_path / "boxes.json"
    pred.write_text(json.dumps({"images": [{"id": 1, "file_name": "im0.jpg", "width": 100, "height": 80}],
                                "categories": [{"id": 124, "wnid": "n00007846", "name": "person"}],
                                "detections": [{"image_id": 1, "category_id": 124, "bbox": [0, 0, 40, 60],
                                                "score": 0.9}]}))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(d), "--pred", str(pred), "--metric", "voc"])
    assert res.exit_code == 0, res.output
    assert res.output.count("<difficult>maybe</difficult> is not 0 or 1 (read as 1)") == 5
    assert f"warning: … and 2 more in {d} (`detect inspect {d}` lists them all)" in res.output


def test_eval_several_gt_one_file_gives_each_image_to_the_ground_truth_it_fits_best(tmp_path):
    # trial 25: one boxes.json over two datasets; set A's "a/x.jpg" (100x100) fits set B's "x.png" (50x40) by its stem
    # alone and was refused as "not the size the ground truth B gives", though it is A's own image (fits A's by path)
    ann = lambda i: {"id": i, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": 0, "area": 400}
    (tmp_path / "A").mkdir(), (tmp_path / "B").mkdir()
    gt_a = tmp_path / "A" / "ann.json"
    gt_a.write_text(json.dumps({"images": [{"id": 1, "file_name": "a/x.jpg", "width": 100, "height": 100}],
                                "annotations": [ann(1)], "categories": [{"id": 1, "name": "person"}]}))
    gt_b = tmp_path / "B" / "ann.json"
    gt_b.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.png", "width": 50, "height": 40}],
                                "annotations": [ann(1)], "categories": [{"id": 1, "name": "person"}]}))
    out = tmp_path / "r.json"

    def shared(file, first):
        """A boxes.json of A's image named ``first`` (100x100) and B's "b/x.png" (50x40), one box each."""
        pred = boxes_json(tmp_path / file, [first, "b/x.png"], [(1, 124), (2, 124)])
        doc = json.loads(pred.read_text())
        doc["images"][1].update(width=50, height=40)
        pred.write_text(json.dumps(doc))
        return pred, doc

    def both_one(pred):  # each image's one box on its own dataset's object: AP 1 on both
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt_a), "--gt", str(gt_b), "--pred", str(pred),
                                       "--json", str(out)])
        assert res.exit_code == 0 and "Traceback" not in res.output, res.output
        assert [d["mAP"] for d in json.loads(out.read_text())["datasets"]] == [1.0, 1.0]
        return res

    pred, doc = shared("boxes.json", "a/x.jpg")
    res = both_one(pred)
    assert "fits ground-truth image" not in res.output  # a/x.jpg is no rival of b/x.png for B's x.png
    # evaluated alone, B still takes what fits it and refuses the other size, as before
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt_b), "--pred", str(pred)])
    assert res.exit_code == 1 and "a/x.jpg 100x100 (ground truth: x.png 50x40)" in res.output, res.output
    # a resized copy of B's own image under B's own name is still refused with both ground truths
    doc["images"][1].update(width=100, height=80)
    pred.write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt_a), "--gt", str(gt_b), "--pred", str(pred)])
    assert res.exit_code == 1 and "b/x.png 100x80 (ground truth: x.png 50x40)" in res.output, res.output
    # trial 28: A's image named with a camera's upper-case extension, "x.JPG", is A's "a/x.jpg"'s by its extension,
    # not a tie sent to B too and refused there as not the size of B's "x.png"
    gt_a.write_text(gt_a.read_text().replace('"a/x.jpg"', '"x.jpg"'))
    both_one(shared("upper.json", "x.JPG")[0])
    # trial 28: a file holding none of B's images, only A's image of B's stem, is refused for B as a file of none
    # of its images is (it scored B 0 without a note)
    pred = boxes_json(tmp_path / "a_only.json", ["x.JPG"], [(1, 124)])
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt_a), "--gt", str(gt_b), "--pred", str(pred)])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"image 'x.JPG' is not an image of the ground truth {gt_b}" in res.output, res.output
    assert "('x.JPG' fits an image of another --gt better, and goes there)" in res.output, res.output
    # trial 28: "x.jpeg" fits A's "x.jpg" and B's "x.png" equally (the stem alone); the size boxes.json records
    # (A's 100x100) tells whose it is — it was refused for B as "not the size"
    pred, doc = shared("jpeg.json", "x.jpeg")
    both_one(pred)
    doc["images"][0].update(width=70, height=70)  # the size of neither: a tie, refused (by A, the first) as before
    pred.write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt_a), "--gt", str(gt_b), "--pred", str(pred)])
    assert res.exit_code == 1 and "x.jpeg 70x70 (ground truth: x.jpg 100x100)" in res.output, res.output
