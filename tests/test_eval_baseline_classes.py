"""detect eval --baseline of a run that kept fewer classes (`detect run --classes`): the baseline is scored on the
classes --pred is scored on, so each class its run left out scores AP 0 there and counts against it in the
difference — a note names them, as the note of --pred names the classes its own run left out (trial 63: for the
baseline, no word, and the difference read "more than the choice of images explains")."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import cli
from helpers import write_coco

PERSON = {"id": 124, "wnid": "n00007846", "name": "person"}
DOG = {"id": 58, "wnid": "n02084071", "name": "dog"}


def _boxes_json(path, categories, detections, classes=None):
    job = {"inputs": 2, "settings": {"proposals": "ss", **({"classes": classes} if classes else {})}}
    path.write_text(json.dumps({
        "model": {"name": "m", "classes": 200, "members": 1},
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                   {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}],
        "categories": categories, "detections": detections, "job": job}))
    return path


def test_a_baseline_whose_run_kept_fewer_classes_is_noted(tmp_path):
    gt = write_coco(tmp_path / "gt.json",
                    [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                     {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}],
                    [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 50]},
                     {"id": 2, "image_id": 2, "category_id": 2, "bbox": [40, 20, 40, 40]}],
                    [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}])
    person = {"image_id": 1, "category_id": 124, "bbox": [10, 10, 30, 50], "score": 0.9}
    dog = {"image_id": 2, "category_id": 58, "bbox": [40, 20, 40, 40], "score": 0.8}
    pred = _boxes_json(tmp_path / "all.json", [PERSON, DOG], [person, dog])
    base = _boxes_json(tmp_path / "dogs.json", [DOG], [dog], classes=["dog"])
    for extra in ([], ["--model-classes-only"]):
        r = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--baseline", str(base), *extra])
        assert r.exit_code == 0, r.output
        assert "difference +0.5000" in r.output, r.output  # person: AP 1 against the baseline's 0
        assert (f"note: baseline {base}: 1 class of the 2 with positives is not among the classes its run kept "
                "(--classes dog): person; it scores AP 0 in the baseline's mean") in r.output, (extra, r.output)
    # the other way round the baseline knows every class scored: nothing to say of it
    r = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(base), "--baseline", str(pred),
                                 "--model-classes-only"])
    assert r.exit_code == 0 and "difference +0.0000" in r.output and "note: baseline" not in r.output, r.output
    # a baseline of a model without the class (its categories): said so too
    other = _boxes_json(tmp_path / "other.json", [DOG], [dog])
    r = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--baseline", str(other)])
    assert r.exit_code == 0, r.output
    assert f"note: baseline {other}: 1 class of the 2 with positives is not among its categories (person)" \
        in r.output, r.output


def test_the_note_on_a_class_outside_the_categories_names_classes_only_where_the_run_may_have_had_one(tmp_path):
    # trial 63 (fix63): "or its run kept other classes (--classes)" was said of a boxes.json whose job shows a run
    # without --classes; it stays where no job says (an older or hand-made file)
    gt = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                                           {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}],
                    [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 50]},
                     {"id": 2, "image_id": 2, "category_id": 2, "bbox": [40, 20, 40, 40]}],
                    [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}])
    dog = {"image_id": 2, "category_id": 58, "bbox": [40, 20, 40, 40], "score": 0.8}
    pred = _boxes_json(tmp_path / "dogs.json", [DOG], [dog])  # a job without --classes
    r = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert r.exit_code == 0, r.output
    assert (f"note: 1 class of the 2 with positives is not among {pred}'s categories (person): its model does not "
            "detect it, and it scores AP 0 in the mean") in r.output, r.output
    assert "--classes" not in r.output
    doc = json.loads(pred.read_text())
    del doc["job"]
    pred.write_text(json.dumps(doc))  # no job: the run may have kept other classes
    r = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert r.exit_code == 0, r.output
    assert ("its model does not detect it, or its run kept other classes (--classes), and it scores AP 0"
            in r.output), r.output
