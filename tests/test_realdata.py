"""Real-data checks on ../shared/data (skipped where it is absent)."""

import json

import pytest
from click.testing import CliRunner

from cli.main import cli

# (folder, images, boxes, classes) as stated in ../shared/data/README.md
README_COUNTS = [
    ("ilsvrc2014_det/val2_xml", 9917, 26782, 200),
    ("ilsvrc2014_det/val2_images_227", 180, 437, 84),
    ("pennfudan", 130, 331, 1),
    ("voc2012_subset", 100, 273, 20),
    ("coco128", 128, 939, 71),
]


@pytest.mark.realdata
@pytest.mark.parametrize("folder,images,boxes,classes", README_COUNTS)
def test_inspect_counts_match_readme(shared_data, tmp_path, folder, images, boxes, classes):
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["inspect", str(shared_data / folder), "--json", str(out), "--no-image-check"])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert (r["images"], r["boxes"], len(r["classes"])) == (images, boxes, classes)


@pytest.mark.realdata
def test_eval_val2_ground_truth_as_predictions(shared_data, tmp_path):
    """Real ILSVRC val2 ground truth, evaluated against itself as an ILSVRC submission file: every class AP 1.0;
    after moving every box 30 % of its size to the right, far lower."""
    import numpy as np

    from detector.data import read_dataset, xyxy_to_ilsvrc

    d = shared_data / "ilsvrc2014_det"
    lst = d / "lists" / "ilsvrc13_val2.txt"
    gt = read_dataset(d / "val2_xml", image_list=lst)
    lines, shifted = [], []
    for im in gt.images:
        for b, lbl in zip(xyxy_to_ilsvrc(im.boxes), im.labels):
            det_id = gt.classes[int(lbl)].det_id
            lines.append(f"{im.image_id} {det_id} 1.0 {b[0]:.0f} {b[1]:.0f} {b[2]:.0f} {b[3]:.0f}\n")
            dx = 0.3 * (b[2] - b[0] + 1)
            shifted.append(f"{im.image_id} {det_id} 1.0 {b[0] + dx:.1f} {b[1]:.0f} {b[2] + dx:.1f} {b[3]:.0f}\n")
    sub = tmp_path / "sub.txt"
    sub.write_text("".join(lines))
    out = tmp_path / "r.json"
    blacklist = ["--blacklist", str(d / "ILSVRC2014_det_validation_blacklist.txt")]
    args = ["eval", "--gt", str(d / "val2_xml"), "--pred", str(sub), "--image-list", str(lst), "--json", str(out)]
    # trial 33: the devkit's blacklist numbers val.txt; read by val2's list it left out 16 pairs of other images
    res = CliRunner().invoke(cli, args + blacklist)
    assert res.exit_code == 1 and "its image indices run to 20118, beyond the 9917 images" in res.output, res.output
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert r["num_classes"] == 200 and r["mAP"] == 1.0 and r["num_predictions"] == len(lines)
    # numbered by val.txt, as the devkit's eval_detection.m reads submission and blacklist alike: it names no val2
    # image (its 317 images are the val images in neither val1 nor val2), so nothing is left out
    by_name = dict(ln.split() for ln in (d / "lists" / "ilsvrc13_val2.txt").read_text().split("\n") if ln.strip())
    val = {name: idx for name, idx in (ln.split() for ln in (d / "lists" / "val.txt").read_text().split("\n")
                                       if ln.strip())}
    renumber = {idx: val[name] for name, idx in by_name.items()}
    sub.write_text("".join(f"{renumber[ln.split()[0]]} {ln.split(' ', 1)[1]}" for ln in lines))
    res = CliRunner().invoke(cli, [*args[:5], "--image-list", str(d / "lists" / "val.txt"), *args[7:], *blacklist])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert r["mAP"] == 1.0 and r["num_predictions"] == len(lines)
    sub.write_text("".join(lines))
    sub.write_text("".join(shifted))  # IoU of a box with itself moved by 30 %: 0.7/1.3 ≈ 0.54 → most still match
    res = CliRunner().invoke(cli, args + ["--iou-threshold", "0.6"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["mAP"] < 0.2
    assert np.isfinite(json.loads(out.read_text())["median_AP"])


@pytest.mark.realdata
def test_eval_voc2012_ground_truth_as_voc_devkit_results(shared_data, tmp_path):
    """Eight real VOC 2012 images' objects written as PASCAL VOC devkit results files (one per class, the numbers as
    the XML gives them, difficult objects too): every class with positives AP 1.0 under voc and voc07, also at
    --iou-threshold 1 (the 1-based inclusive boxes are converted as the XML's are); a class's file left out scores
    AP 0 with a note; an identifier of another image stops the evaluation at its line."""
    import shutil
    import xml.etree.ElementTree as ET

    src = shared_data / "voc2012_subset" / "Annotations"
    ann = tmp_path / "voc" / "Annotations"
    ann.mkdir(parents=True)
    for f in sorted(src.glob("*.xml"))[:8]:
        shutil.copy(f, ann)
    per_class: dict[str, list[str]] = {}
    for f in sorted(ann.glob("*.xml")):
        for ob in ET.parse(f).getroot().iter("object"):
            bb = ob.find("bndbox")
            per_class.setdefault(ob.findtext("name").strip(), []).append(
                f.stem + " 1.0 " + " ".join(bb.findtext(t).strip() for t in ("xmin", "ymin", "xmax", "ymax")) + "\n")
    assert len(per_class) >= 4
    res = tmp_path / "results" / "VOC2012" / "Main"
    res.mkdir(parents=True)
    for cls, lines in per_class.items():
        (res / f"comp4_det_val_{cls}.txt").write_text("".join(lines))
    out = tmp_path / "r.json"
    args = ["eval", "--gt", str(tmp_path / "voc"), "--pred", str(res), "--json", str(out)]
    for extra in (["--metric", "voc"], ["--metric", "voc07"], ["--metric", "voc", "--iou-threshold", "1"]):
        r = CliRunner().invoke(cli, args + extra)
        assert r.exit_code == 0 and "note:" not in r.stderr, r.output
        got = json.loads(out.read_text())
        assert got["mAP"] == 1.0 and got["num_predictions"] == sum(map(len, per_class.values())), extra
        assert {c["name"] for c in got["per_class"]} <= set(per_class)
    gone = sorted(per_class)[0]
    (res / f"comp4_det_val_{gone}.txt").unlink()
    r = CliRunner().invoke(cli, args + ["--metric", "voc"])
    assert r.exit_code == 0 and "no results file for 1 class of the ground truth" in r.stderr, r.output
    assert {c["name"]: c["AP"] for c in json.loads(out.read_text())["per_class"]}[gone] == 0.0
    other = sorted(src.glob("*.xml"))[8].stem
    (res / f"comp4_det_val_{gone}.txt").write_text(f"{other} 0.5 1 1 10 10\n")
    r = CliRunner().invoke(cli, args + ["--metric", "voc"])
    assert r.exit_code == 1 and f"comp4_det_val_{gone}.txt:1: image '{other}' is no image" in r.output, r.output
