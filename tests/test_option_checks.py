"""Option values and settings refused as usage errors from a user trial: non-finite floats, a resumed MultiBox run
with other settings, a default output replacing a file that is not ours, and notes `detect eval` owes."""

import json
from pathlib import Path

import click
from click.testing import CliRunner

from cli.main import cli
from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.vocab import ilsvrc_categories

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _float_options(group: click.Group, path=()):
    """(command path, option flag) of every float option of every command under ``group``."""
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _float_options(cmd, (*path, name))
            continue
        for p in cmd.params:
            if isinstance(p, click.Option) and isinstance(p.type, click.types.FloatParamType):
                yield (*path, name), p.opts[0]


def test_every_float_option_refuses_nan_and_infinity(tmp_path):
    options = list(_float_options(cli))
    flags = {flag for _, flag in options}
    assert {"--score-threshold", "--nms-iou", "--draw-threshold", "--ss-scale", "--iou-threshold",
            "--crop-min-area", "--lr"} <= flags
    for path, flag in options:
        for value, what in (("nan", "is not a number"), ("NaN", "is not a number"), ("inf", "is not a finite"),
                            ("-inf", "is not a finite")):
            res = CliRunner().invoke(cli, [*path, flag, value])
            assert res.exit_code == 2, (path, flag, value, res.output)
            assert f"Invalid value for '{flag}': {value} {what}" in res.output, (path, flag, res.output)
    # with everything else given, nothing is written (no OUT.part.jsonl left behind)
    gt, img = str(SAMPLES / "annotations.json"), str(SAMPLES / "images" / "PennPed00010.jpg")
    out = tmp_path / "o.json"
    for args in (["run", img, "--preset", "fast", "--out", str(out), "--score-threshold", "nan"],
                 ["run", img, "--preset", "fast", "--out", str(out), "--nms-iou", "nan"],
                 ["run", img, "--preset", "fast", "--out", str(out), "--ss-scale", "nan"],
                 ["run", img, "--preset", "fast", "--out", str(out), "--draw-threshold", "nan"],
                 ["eval", "--gt", gt, "--pred", gt, "--iou-threshold", "nan"],
                 ["train", "multibox", "--gt", gt, "--out", str(tmp_path / "m.pt"), "--crop-min-area", "nan"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and "nan is not a number" in res.output, (args, res.output)
    assert not list(tmp_path.iterdir())


def test_a_multibox_run_resumes_only_with_its_own_settings(tmp_path):
    gt, out = str(SAMPLES / "annotations.json"), tmp_path / "m.pt"
    ours, priors = tmp_path / "ours.txt", tmp_path / "priors.txt"
    ours.write_text("\n".join(f"0.{k} 0.{k} 0.9 0.9" for k in range(8)) + "\n")
    priors.write_text("\n".join("0.1 0.1 0.9 0.9" for _ in range(8)) + "\n")
    base = ["train", "multibox", "--gt", gt, "--out", str(out), "--input-size", "96", "--width", "0.25",
            "--device", "cpu"]
    res = CliRunner().invoke(cli, [*base, "--epochs", "1", "--crop-min-area", "0.5", "--priors", str(ours)])
    assert res.exit_code == 0, res.output
    state = out.with_suffix(".state.ckpt").read_bytes()
    same = ["--priors", str(ours), "--crop-min-area", "0.5"]
    for changed, needles in (
            (["--priors", str(ours), "--crop-min-area", "1", "--lr", "0.5", "--batch-size", "2"],
             ["--crop-min-area 1.0 now, 0.5 in that run", "--lr 0.5 now, 0.02 in that run",
              "--batch-size 2 now, 16 in that run"]),
            ([*same, "--input-size", "160"], ["--input-size 160 now, 96 in that run"]),
            ([*same, "--width", "0.5"], ["--width 0.5 now, 0.25 in that run"]),
            (["--crop-min-area", "0.5", "--priors", str(priors)], ["priors: other boxes now than in that run"]),
            (["--crop-min-area", "0.5"], [f"-k 200 now, 8 in that run (that run's priors: --priors {ours})"]),
            ([*same, "--seed", "3"], ["--seed 3 now, 0 in that run"]),
            ([*same, "--gt", gt], [f"--gt {gt} {gt} now, {gt} in that run"]),  # trial 23: other data went on
            ([*same, "--val", gt], [f"--val {gt} now, (none) in that run"])):  # trial 45: went on silently
        for epochs in ("3", "1"):  # a finished run too
            res = CliRunner().invoke(cli, [*base, "--epochs", epochs, "--resume", *changed])
            assert res.exit_code == 1 and "Traceback" not in res.output, res.output
            assert f"cannot resume {out}" in res.output and "delete" in res.output, res.output
            for needle in needles:
                assert needle in res.output, res.output
            assert "epochs" not in res.output.split("(")[1].split("; only --epochs may change)")[0], res.output
        assert out.with_suffix(".state.ckpt").read_bytes() == state  # nothing trained, nothing recorded
    member = tmp_path / "member.pt"  # a trunk that could start it: not used by a resumed run (trial 23: no word)
    save_member(member, build_classifier(spec := ClassifierSpec(arch="paper-bn", input_size=96, width=0.25)), spec,
                ilsvrc_categories())
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", *same, "--init", str(member)])
    assert res.exit_code == 0 and "epoch   2" in res.output, res.output  # raising --epochs trains on
    assert f"note: --init {member} is not used: the run goes on from its own state" in res.output, res.output
    junk = tmp_path / "junk.txt"  # trial 53: a wrong --init said "not used", then was read and refused
    junk.write_text("not a model\n")
    res = CliRunner().invoke(cli, [*base, "--epochs", "3", "--resume", *same, "--init", str(junk)])
    assert res.exit_code == 0 and "epoch   3" in res.output and "not a model file" not in res.output, res.output


def test_proposals_never_replace_a_file_that_is_not_theirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    img = str(SAMPLES / "images" / "PennPed00010.jpg")
    args = ["proposals", img, "--ss-resize-width", "100", "--no-cache", "--workers", "0"]
    mine = tmp_path / "proposals.json"  # the default --out
    mine.write_text('{"my":"important"}\n')
    for extra in ([], ["--out", str(mine)]):
        res = CliRunner().invoke(cli, [*args, *extra])
        assert res.exit_code == 1 and "exists and is JSON with the keys my, not an earlier output of this command (a " \
            "proposals output of `detect proposals`)" in res.output, res.output
        assert mine.read_text() == '{"my":"important"}\n'
    mine.unlink()
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and "wrote proposals.json" in res.output, res.output
    res = CliRunner().invoke(cli, args)  # its own output is replaced
    assert res.exit_code == 0, res.output
    assert json.loads(mine.read_text())["method"] == "ss"


def _coco_gt(tmp_path):
    gt = tmp_path / "ann.json"
    gt.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
                   {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400},
                        {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400},
                        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [50, 50, 20, 20], "area": 400}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}]}))
    return gt


def test_eval_warns_that_coco_does_not_use_the_iou_threshold(tmp_path):
    gt = _coco_gt(tmp_path)
    pred = tmp_path / "res.json"
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
                                {"image_id": 2, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.8}]))
    warning = "warning: --iou-threshold 0.3 is not used: --metric coco evaluates IoU 0.5:0.95"
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--metric", "coco",
                                   "--iou-threshold", "0.3"])
    assert res.exit_code == 0 and warning in res.stderr and warning not in res.stdout, res.output
    for args in (["--metric", "coco"], ["--iou-threshold", "0.3"]):  # the default, or a metric that uses it
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), *args])
        assert res.exit_code == 0 and "is not used" not in res.output, res.output


def test_eval_notes_ground_truth_images_missing_from_coco_results_and_ilsvrc_text(tmp_path):
    gt = _coco_gt(tmp_path)
    pred = tmp_path / "res.json"  # results of a.jpg only, by the ground truth's image ids
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}]))
    for metric in ("ilsvrc", "coco"):
        res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--metric", metric])
        assert res.exit_code == 0, res.output
        assert (f"note: 1 image of the ground truth's 2 has no result in {pred} (e.g. b.jpg; COCO results name only "
                "the images with detections): if the detector did not run on it, its 2 objects") in res.stderr
    pred.write_text(json.dumps([{"image_id": k, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}
                                for k in (1, 2)]))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 0 and "no result in" not in res.output, res.output
    # ILSVRC submission text: its --image-list (detect run --format ilsvrc's OUT.images.txt) lists the images run
    sub, listed = tmp_path / "sub.txt", tmp_path / "sub.images.txt"
    sub.write_text("1 124 0.9 10 10 29 29\n")
    listed.write_text("a.jpg 1\n")
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(sub), "--image-list", str(listed)])
    assert res.exit_code == 0, res.output
    assert (f"note: 1 image of the ground truth's 2 is not among the images {sub} ran on (e.g. b.jpg): its 2 objects"
            in res.stderr), res.output
    listed.write_text("a.jpg 1\nb.jpg 2\n")  # run on both, nothing found on b.jpg: no note
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(sub), "--image-list", str(listed)])
    assert res.exit_code == 0 and "not among the images" not in res.output, res.output


def test_the_coco_gt_warning_shows_when_its_class_list_is_cut(caplog):
    from detector.data.boxes_json import to_coco_results
    from detector.data.coco import CocoGtIds

    names = [f"class{k}" for k in range(6)]
    doc = {"images": [{"id": 0, "file_name": "a.jpg"}],
           "categories": [{"id": k, "name": n} for k, n in enumerate(names)],
           "detections": [{"image_id": 0, "category_id": k, "bbox": [0, 0, 5, 5], "score": 0.5} for k in range(6)]}
    ids = CocoGtIds("gt.json", {"a.jpg": 1}, {})
    assert to_coco_results(doc, ids) == []
    assert "6 detections of 6 classes that gt.json does not have" in caplog.text
    assert caplog.text.rstrip().endswith(", …)"), caplog.text
    caplog.clear()
    to_coco_results({**doc, "detections": doc["detections"][:5]}, ids)
    assert caplog.text.rstrip().endswith("class4 1)"), caplog.text


def test_a_resumed_spec_refusal_names_the_options(tmp_path):
    """check_resume_spec names what differs as the options give it (trial 23: `--class-map none` read
    "num_classes 4 (was 1000), class_map  (was imagenet1k)")."""
    import pytest

    from detector.classifier import CheckpointError, ClassifierSpec, build_classifier, save_member
    from detector.data.vocab import ilsvrc_categories
    from detector.nn.loop import last_path
    from detector.train import check_resume_spec

    out = tmp_path / "m.pt"
    before = ClassifierSpec(arch="paper-bn", num_classes=1000, input_size=96, width=0.125, class_map="imagenet1k")
    save_member(last_path(out), build_classifier(before), before, ilsvrc_categories())
    now = ClassifierSpec(arch="paper-bn", num_classes=4, input_size=112, width=0.125, class_map="", bbox_reg=True)
    with pytest.raises(CheckpointError) as e:
        check_resume_spec(out, now)
    msg = str(e.value)
    assert "--class-map none now, imagenet1k in that run" in msg and "--input-size 112 now, 96 in that run" in msg
    assert "--bbox-reg on now, off in that run" in msg and "num_classes" not in msg
    # and says how to start over, in the words of every other refused resume (trial 25; detector.nn.options)
    assert msg.startswith(f"cannot resume {out}: it was started with other settings (") and \
        msg.endswith(f"). Give the same, or delete {tmp_path / 'm.state.ckpt'} to start over"), msg


def test_multibox_k_without_shipped_priors_is_a_usage_error(tmp_path):
    # trial 25: exit 1 for an option's value
    res = CliRunner().invoke(cli, ["train", "multibox", "--gt", str(SAMPLES / "annotations.json"), "--out",
                                   str(tmp_path / "m.pt"), "-k", "20"])
    assert res.exit_code == 2 and "no shipped priors for K=20" in res.output and "--priors" in res.output, res.output


def test_multibox_priors_that_are_not_a_priors_file_are_named(tmp_path):
    """Trial 34: --priors of a PNG was "'utf-8' codec can't decode byte 0x89 in position 0" (no file named), a line
    of 3 numbers numpy's "the number of columns changed from 3 to 4 at row 2", 3 numbers a line, an empty file or
    a NaN a traceback. Each is now a usage error naming the file, the line and what is wrong."""
    import numpy as np

    from cli.train_cmd import _read_priors
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "p.png")
    cases = {"p.png": "a PNG image", "three.txt": "line 1 has 3 fields", "changed.txt": "line 2 has 3 fields",
             "empty.txt": "no boxes in it", "nan.txt": "line 2 has a value that is not a finite number: '0.1 0.2 0.3 nan'",
             "words.txt": "line 1 is not 4 numbers: 'a b c d'"}
    (tmp_path / "three.txt").write_text("0.1 0.2 0.3\n")
    (tmp_path / "changed.txt").write_text("0.1 0.2 0.3 0.4\n0.1 0.2 0.3\n")
    (tmp_path / "empty.txt").write_text("# no boxes\n\n")
    (tmp_path / "nan.txt").write_text("0.1 0.2 0.3 0.4\n0.1 0.2 0.3 nan\n")
    (tmp_path / "words.txt").write_text("a b c d\n")
    for name, said in cases.items():
        res = CliRunner().invoke(cli, ["train", "multibox", "--gt", str(SAMPLES / "annotations.json"), "--out",
                                       str(tmp_path / "m.pt"), "--priors", str(tmp_path / name)])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert f"{tmp_path / name}: {said}, not a priors file (4 numbers a line" in res.output, res.output
    # the shipped priors read as numpy read them
    shipped = Path(__file__).parent.parent / "proposals" / "priors_200.txt"
    np.testing.assert_array_equal(_read_priors(shipped), np.loadtxt(shipped, dtype=np.float32, ndmin=2))


def test_multibox_priors_not_normalised_or_inverted_are_refused(tmp_path):
    """Priors in pixels, inverted (x2 < x1, y2 < y1) or of no area were trained on without a word: each is now a
    usage error naming the file, the line and what is wrong (the path of the file errors above)."""
    import pytest

    from cli.train_cmd import _read_priors

    cases = {"pixels.txt": ("0.1 0.1 0.9 0.9\n# a comment\n10 20 110 220\n",
                            "line 3 has a value outside [0, 1] (not normalised by the image size): '10 20 110 220'"),
             "negative.txt": ("-0.1 0.1 0.9 0.9\n", "line 1 has a value outside [0, 1]"),
             "xinv.txt": ("0.1 0.1 0.9 0.9\n0.8 0.1 0.2 0.9\n", "line 2 has x2 0.2 < x1 0.8 (an inverted box)"),
             "yinv.txt": ("0.1 0.9 0.9 0.1\n", "line 1 has y2 0.1 < y1 0.9 (an inverted box)"),
             "flat.txt": ("0.1 0.5 0.9 0.5\n", "line 1 has y2 0.5 = y1 0.5 (a box of no area)")}
    for name, (text, said) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(click.BadParameter) as e:
            _read_priors(tmp_path / name)
        assert f"{tmp_path / name}: {said}" in e.value.format_message(), (name, e.value.format_message())
    res = CliRunner().invoke(cli, ["train", "multibox", "--gt", str(SAMPLES / "annotations.json"), "--out",
                                   str(tmp_path / "m.pt"), "--priors", str(tmp_path / "xinv.txt"), "--input-size",
                                   "96", "--width", "0.25", "--epochs", "1", "--device", "cpu"])
    assert res.exit_code == 2 and "Invalid value for '--priors': " in res.output, res.output
    assert f"{tmp_path / 'xinv.txt'}: line 2 has x2 0.2 < x1 0.8" in res.output and not (tmp_path / "m.pt").exists()
    edges = tmp_path / "edges.txt"  # 0 and 1 themselves are in the image
    edges.write_text("0 0 1 1\n0.5 0 1 0.25\n")
    assert _read_priors(edges).tolist() == [[0, 0, 1, 1], [0.5, 0, 1, 0.25]]


def test_multibox_k_other_than_the_priors_files_is_refused(tmp_path):
    """-k 3 with --priors of 4 boxes trained K = 4, the -k dropped without a word: now a usage error naming both
    numbers; -k left at its default, or the file's own K, is taken."""
    from cli.train_cmd import multibox_from_options

    priors = tmp_path / "p.txt"
    priors.write_text("0 0 0.5 0.5\n0.5 0.5 1 1\n0.25 0.25 0.75 0.75\n0 0 1 1\n")
    base = ["train", "multibox", "--gt", str(SAMPLES / "annotations.json"), "--out", str(tmp_path / "m.pt"),
            "--priors", str(priors), "--input-size", "96", "--width", "0.25", "--epochs", "1", "--device", "cpu"]
    for k in ("3", "200"):  # 200: the default, given
        res = CliRunner().invoke(cli, [*base, "-k", k])
        assert res.exit_code == 2 and "Invalid value for '-k': " in res.output, res.output
        assert f"-k {k}, and --priors {priors} holds 4 priors" in res.output and "give -k 4" in res.output, res.output
    assert not (tmp_path / "m.pt").exists()
    o = {"priors_path": priors, "num_priors": 200, "input_size": 96, "width": 0.25, "epochs": 1, "batch_size": 2,
         "lr": 0.01, "seed": 0, "crop_min_area": 1.0, "val_top": 2}
    assert multibox_from_options(o)[1].num_priors == 4  # -k at its default: the file's K
    assert multibox_from_options({**o, "num_priors": 4}, k_given=True)[1].num_priors == 4


def test_multibox_val_top_notes_say_where_k_came_from_and_that_it_needs_val(tmp_path):
    """The note of a --val-top that counts every box said "give fewer than -k" when K was --priors' number of boxes;
    --val-top without --val was dropped without a word. Now the note names the priors file, and --val-top alone
    is noted as having no effect (its default alone is not)."""
    import numpy as np
    from PIL import Image

    images, anns = [], []
    for i in range(2):
        Image.fromarray(np.full((64, 64, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": 64, "height": 64})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [10, 8, 40, 32]})
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    priors = tmp_path / "p.txt"
    priors.write_text("0 0 0.5 0.5\n0.5 0.5 1 1\n0.25 0.25 0.75 0.75\n0 0 1 1\n")
    base = ["train", "multibox", "--gt", str(gt), "--priors", str(priors), "--input-size", "96", "--width", "0.25",
            "--epochs", "1", "--batch-size", "2", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*base, "--val", str(gt), "--out", str(tmp_path / "a.pt")])
    assert res.exit_code == 0, res.output
    assert (f"note: --val-top 50 counts every box of the K = 4: the ranking of the boxes does not count in picking "
            f"the best epoch (give fewer than the 4 priors of --priors {priors})") in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--val-top", "3", "--out", str(tmp_path / "b.pt")])
    assert res.exit_code == 0, res.output
    assert "note: --val-top 3 has no effect without --val" in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "c.pt")])
    assert res.exit_code == 0 and "--val-top" not in res.output, res.output


def test_ray_options_without_the_ray_engine_are_refused(tmp_path):
    # trial 29: `detect run … --address auto` (or --ray-actors 2) ran on this machine, the option ignored, exit 0
    for extra, said in ((["--address", "auto"], "--address is a setting of --engine ray"),
                        (["--ray-actors", "2", "--ray-chunk", "4"], "--ray-actors, --ray-chunk are settings of "
                                                                    "--engine ray")):
        res = CliRunner().invoke(cli, ["run", str(SAMPLES / "images"), "--out", str(tmp_path / "b.json"), *extra])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert said in res.output and "this run's engine is --engine local: add --engine ray" in res.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_train_classifier_names_options_its_network_cannot_take(tmp_path):
    # trial 30: --fast-max-side under --fast-short-side was refused in ClassifierSpec's field names, and --width 0.5
    # with --arch torchvision trained the full-width network without a word
    base = ["train", "classifier", "--gt", str(SAMPLES / "annotations.json"), "--out", str(tmp_path / "m.pt")]
    for extra, said in ((["--mode", "fast", "--fast-short-side", "600", "--fast-max-side", "500"],
                         "Invalid value for '--fast-max-side': 500 is below --fast-short-side 600"),
                        (["--arch", "torchvision", "--width", "0.5"],
                         "Invalid value for '--width': 0.5: torchvision's GoogLeNet comes in one width (1)")):
        res = CliRunner().invoke(cli, [*base, *extra])
        assert res.exit_code == 2 and said in res.output, res.output
    assert not list(tmp_path.iterdir())


def test_a_wrong_multibox_init_is_refused_before_any_image_is_decoded(tmp_path, monkeypatch):
    """Trial 45: `detect train multibox --init` of a network that cannot start the trunk was refused only after every
    training and validation image had been decoded (30 s on the project's split)."""
    import proposals.multibox_train as mt

    def decoded(*args, **kwargs):
        raise AssertionError("an image was decoded before --init was checked")

    monkeypatch.setattr(mt, "prepare_samples", decoded)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.5)
    member = save_member(tmp_path / "wide.pt", build_classifier(spec).eval(), spec, ilsvrc_categories()[:2])
    junk = tmp_path / "junk.pth"
    junk.write_text("not a model")
    base = ["train", "multibox", "--gt", str(SAMPLES / "annotations.json"), "--out", str(tmp_path / "m.pt"),
            "--input-size", "96", "--width", "0.25", "--device", "cpu"]
    for init, needle in ((member, "cannot initialise a MultiBox trunk (paper-bn, width 0.25): give --width 0.5"),
                         (junk, str(junk))):
        res = CliRunner().invoke(cli, [*base, "--init", str(init)])
        assert res.exit_code == 1 and needle in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "m.pt").exists()


def test_a_selective_search_setting_past_what_opencv_takes_is_a_usage_error(tmp_path):
    """trial 56: `detect run --ss-scale 1e8` (or 1e308) and `--ss-resize-width 99999999` were taken, then every
    image failed in OpenCV's words ("integer won't fit into a C int", "cannot convert float infinity to integer",
    "Failed to allocate 28799999412000003 bytes") and the run exited 1; load_detector took them as well."""
    import pytest

    from detector import load_detector
    from proposals.selective_search import MAX_RESIZE_WIDTH, MAX_SCALE, SelectiveSearchConfig

    img = str(SAMPLES / "images" / "PennPed00010.jpg")
    for command in (["run", img, "--out", str(tmp_path / "o.json")], ["proposals", img],
                    ["train", "classifier", "--gt", str(SAMPLES / "annotations.json")]):
        for flag, value in (("--ss-scale", "1e8"), ("--ss-scale", "1e308"), ("--ss-resize-width", "99999999")):
            if command[0] == "train" and flag == "--ss-resize-width":
                continue  # training has no --ss-resize-width
            res = CliRunner().invoke(cli, [*command, flag, value])
            assert res.exit_code == 2, (command, flag, res.output)
            assert f"Invalid value for '{flag}'" in res.output, res.output
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "o.json.part.jsonl").exists()
    for keyword, value in (("ss_scale", 1e8), ("ss_resize_width", 10 ** 8)):
        with pytest.raises(ValueError, match=rf"^{keyword}="):
            load_detector(tmp_path / "absent.pt", **{keyword: value})
    with pytest.raises(ValueError, match="scale must be"):
        SelectiveSearchConfig(scale=MAX_SCALE * 2)
    with pytest.raises(ValueError, match="resize_width must be at most"):
        SelectiveSearchConfig(resize_width=MAX_RESIZE_WIDTH + 1)
    SelectiveSearchConfig(scale=MAX_SCALE, resize_width=MAX_RESIZE_WIDTH)  # the bounds themselves are taken


def test_the_coco_gt_warning_counts_in_words(caplog):
    """trial 59: `detect run --classes tv --format coco --coco-gt` of a ground truth without tv warned "4 detections
    of 1 classes"; one detection is "1 detection … is left out"."""
    from detector.data.boxes_json import to_coco_results
    from detector.data.coco import CocoGtIds

    doc = {"images": [{"id": 0, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "tv"}],
           "detections": [{"image_id": 0, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}] * 4}
    ids = CocoGtIds("gt.json", {"a.jpg": 1}, {})
    assert to_coco_results(doc, ids) == []
    assert "4 detections of 1 class that gt.json does not have are left out of the COCO results (tv 4)" in caplog.text
    caplog.clear()
    to_coco_results({**doc, "detections": doc["detections"][:1]}, ids)
    assert "1 detection of 1 class that gt.json does not have is left out" in caplog.text, caplog.text


def test_multibox_warns_of_an_image_without_its_file_once(tmp_path):
    """Trial 65: `detect train multibox` warned of an annotated image whose file is missing twice — "1 of the 3
    images of gt.json has no image file (left out: gone.png) …", then "gone.png: no image file (left out)"."""
    import numpy as np
    from PIL import Image

    images, anns = [], []
    for i in range(3):
        if i < 2:
            Image.fromarray(np.full((64, 64, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
        name = f"{i}.png" if i < 2 else "gone.png"
        images.append({"id": i + 1, "file_name": name, "width": 64, "height": 64})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [10, 8, 40, 32]})
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    priors = tmp_path / "p.txt"
    priors.write_text("0 0 0.5 0.5\n0.5 0.5 1 1\n0.25 0.25 0.75 0.75\n0 0 1 1\n")
    res = CliRunner().invoke(cli, ["train", "multibox", "--gt", str(gt), "--priors", str(priors), "--input-size",
                                   "96", "--width", "0.25", "--epochs", "1", "--batch-size", "2", "--device", "cpu",
                                   "--out", str(tmp_path / "m.pt")])
    assert res.exit_code == 0, res.output
    assert res.output.count("gone.png") == 1 and "has no image file (left out: gone.png)" in res.output, res.output
    assert "training MultiBox" in res.output and ": 2 images," in res.output, res.output
