"""detect run --classes / load_detector(classes=…): detections of the classes asked for alone; detect inspect MODEL
lists the names it takes."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from cli.main import cli
from detector import load_detector
from detector.data.vocab import ilsvrc_categories, select_classes
from detector.pipeline import PostprocessConfig, postprocess
from test_presets import crops_model, image_folder, run


def test_names_are_matched_by_name_wnid_and_voc_or_coco_name_in_the_model_s_order():
    classes = ilsvrc_categories()
    assert select_classes(classes, "Person, dog") == ("dog", "person")  # the model's order, any case
    assert select_classes(classes, ["motorbike", "tv", "n02084071", "dog"]) == ("dog", "motorcycle", "tv or monitor")
    assert select_classes(classes, "N02084071") == ("dog",)  # a wnid in capitals (trial 57)
    with pytest.raises(ValueError, match=r"'persn' \(closest: person.*'unicorn' — the model has 200 classes"):
        select_classes(classes, "persn,unicorn")
    with pytest.raises(ValueError, match=r"'bottle' \(closest: water bottle, wine bottle, "):
        select_classes(classes, "bottle")  # classes holding the word first (trial 57: by spelling alone, otter)
    with pytest.raises(ValueError, match=r"'bottles' \(closest: water bottle, wine bottle"):
        select_classes(classes, "bottles")  # and its singular (trial 63: wine bottle, otter, water bottle)
    with pytest.raises(ValueError, match="no class named"):
        select_classes(classes, " , ")
    with pytest.raises(ValueError, match="not a class of the model: 'cat'"):
        select_classes(classes[:5], "cat")  # an ILSVRC class the model lacks


def test_the_mask_applies_before_the_cap():
    """max_detections counts the classes kept: the best of them, not what is left of the best of all."""
    boxes = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], dtype=torch.float32)
    probs = torch.tensor([[0.0, 0.9, 0.1], [0.0, 0.8, 0.2], [0.0, 0.7, 0.3]])  # class 1 best everywhere
    config = PostprocessConfig(max_detections=2)
    _, _, labels = postprocess(boxes, probs, (100, 100), config)
    assert labels.tolist() == [1, 1]
    b, s, labels = postprocess(boxes, probs, (100, 100), config, torch.tensor([False, True]))
    assert labels.tolist() == [2, 2] and s.tolist() == pytest.approx([0.3, 0.2])
    assert b.tolist() == [[40, 40, 50, 50], [20, 20, 30, 30]]


def test_detect_run_classes_keeps_the_asked_class_alone_and_is_part_of_the_job(tmp_path):
    d = image_folder(tmp_path)
    model = crops_model(tmp_path / "m.pt")  # person and dog, person likely everywhere
    args = ["--max-detections", "5000", "--score-threshold", "0"]
    every = run(tmp_path, d, model, tmp_path / "all.json", *args)
    dog_id = next(c["id"] for c in every["categories"] if c["name"] == "dog")
    dogs = run(tmp_path, d, model, tmp_path / "dogs.json", *args, "--classes", "DOG")
    assert dogs["detections"] and {a["category_id"] for a in dogs["detections"]} == {dog_id}
    key = lambda a: (a["image_id"], a["bbox"], a["score"])  # noqa: E731
    assert sorted(map(key, dogs["detections"])) == sorted(key(a) for a in every["detections"]
                                                          if a["category_id"] == dog_id)
    assert dogs["job"]["settings"]["classes"] == ["dog"] and "classes" not in every["job"]["settings"]
    assert [c["name"] for c in dogs["categories"]] == ["dog"] and dogs["model"] == every["model"]
    # a job with other classes is another job: --resume does not take its finished output as this one's
    r = CliRunner().invoke(cli, ["run", str(d), "--out", str(tmp_path / "dogs.json"), "--model", str(model),
                                 "--workers", "1", "--no-cache", "--backend", "torch", "--threads", "1", *args,
                                 "--classes", "person", "--resume"])
    assert r.exit_code == 0, r.output
    assert "finished output of another job" in r.output
    people = json.loads((tmp_path / "dogs.json").read_text())
    assert {a["category_id"] for a in people["detections"]} == {c["id"] for c in every["categories"]
                                                                 if c["name"] == "person"}


def test_an_unknown_class_is_a_usage_error_naming_it(tmp_path):
    d = image_folder(tmp_path)
    model = crops_model(tmp_path / "m.pt")
    r = CliRunner().invoke(cli, ["run", str(d), "--out", str(tmp_path / "b.json"), "--model", str(model),
                                 "--no-cache", "--classes", "person,cat"])
    assert r.exit_code == 2
    assert "'--classes'" in r.output and "'cat'" in r.output and "2 classes" in r.output
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "b.json.part.jsonl").exists()


def test_load_detector_takes_classes_as_detect_run(tmp_path):
    d = image_folder(tmp_path)
    model = crops_model(tmp_path / "m.pt")
    det = load_detector(model, device=None, backend="torch", no_cache=True, threads=1, classes=["dog"],
                        score_threshold=0.0)  # device=None: the default, "auto" (torchvision's habit; trial 56)
    assert det.config.postprocess.classes == ("dog",)
    assert "2 classes (dog kept)" in repr(det)  # trial 59: it said the model's count alone
    out = det(str(d / "0.png"))
    assert len(out["labels"]) and set(out["labels"].tolist()) == {det.categories.index("dog")}
    with pytest.raises(TypeError, match="classes=3"):
        load_detector(model, device="cpu", classes=3)
    with pytest.raises(ValueError, match="^classes='cat': this name is not a class of the model: 'cat'"):
        load_detector(model, device="cpu", classes="cat")


def test_detect_inspect_lists_a_model_s_members_and_classes(tmp_path):
    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.pt")
    crops_model(folder / "member1.pt", seed=1)
    r = CliRunner().invoke(cli, ["inspect", str(folder), "--json", str(tmp_path / "m.json")])
    assert r.exit_code == 0, r.output
    assert "(a model: 2 members)" in r.output and "member1.pt  paper-bn, width 0.25, input 96 px" in r.output
    assert "crops mode" in r.output and "2 classes + background" in r.output
    doc = json.loads((tmp_path / "m.json").read_text())
    assert [c["name"] for c in doc["classes"]] == ["person", "dog"] and len(doc["members"]) == 2
    r = CliRunner().invoke(cli, ["inspect", str(folder / "member0.pt"), "--strict"])
    assert r.exit_code == 2 and "is a model" in r.output


def test_eval_names_the_classes_a_run_kept_in_every_output_format(tmp_path):
    """A `--classes dog` run scored against ground truth of person and dog: the note names the run's --classes for
    boxes.json and for --format coco / ilsvrc (whose job record holds the list; trial 57: no note at all), and
    --model-classes-only scores dog alone in each — also where the run found no dog (an AP of 0, not left out)."""
    from helpers import write_coco

    d = image_folder(tmp_path)
    model = crops_model(tmp_path / "m.pt")
    gt = write_coco(tmp_path / "gt.json", [{"id": k + 1, "file_name": f"{k}.png", "width": 120, "height": 90}
                                           for k in range(2)],
                    [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [30, 20, 60, 50]},
                     {"id": 2, "image_id": 2, "category_id": 2, "bbox": [40, 20, 50, 50]}],
                    [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}])
    outs = {"json": tmp_path / "b.json", "coco": tmp_path / "r.json", "ilsvrc": tmp_path / "s.txt"}
    for fmt, out in outs.items():
        r = CliRunner().invoke(cli, ["run", str(d), "--out", str(out), "--model", str(model), "--workers", "1",
                                     "--no-cache", "--backend", "torch", "--threads", "1", "--classes", "dog",
                                     "--score-threshold", "0.99", "--format", fmt])
        assert r.exit_code == 0, r.output
    listed = ["--image-list", str(tmp_path / "s.images.txt")]  # ILSVRC text numbers images by the list beside it
    empty = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(outs["ilsvrc"])])
    assert empty.exit_code != 0 and f"pass --image-list (e.g. ilsvrc13_val2.txt; {listed[1]}, written" in empty.output
    for fmt, out in outs.items():
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(out), *listed * (fmt == "ilsvrc")])
        assert res.exit_code == 0, res.output
        assert (f"1 class of the 2 with positives is not among the classes {out}'s run kept (--classes dog): "
                "person; it scores AP 0 in the mean") in res.output, (fmt, res.output)
        assert "(the detector found none of the classes its run kept: dog (--classes))" in res.output, res.output
        only = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(out), "--model-classes-only",
                                        *listed * (fmt == "ilsvrc")])
        assert only.exit_code == 0 and "1 class with positives" in only.output, (fmt, only.output)


def test_detect_inspect_counts_one_class_in_the_singular(tmp_path):
    """Trial 65: a member of one class (`detect train` on people alone) read "1 classes + background"."""
    from detector.classifier import ClassifierSpec, build_classifier, save_member

    torch.manual_seed(0)
    spec = ClassifierSpec(arch="paper-bn", num_classes=2, input_size=96, width=0.25)
    save_member(tmp_path / "person.pt", build_classifier(spec).eval(), spec, [ilsvrc_categories()[123]])
    r = CliRunner().invoke(cli, ["inspect", str(tmp_path / "person.pt")])
    assert r.exit_code == 0 and "· 1 class + background ·" in r.output and "1 classes" not in r.output, r.output
