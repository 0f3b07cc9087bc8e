"""The files annotation tools write (CVAT, Label Studio, Roboflow) read as the boxes they hold: the same numbers as
the original annotations of those boxes (trial 50)."""

import json

import pytest
from helpers import eval_json, voc_xml, write_coco, write_image

from detector.data import DatasetError, read_dataset

# a VOC-born dataset exported as COCO by CVAT, Label Studio or Roboflow keeps the VOC class names
VOC_NAMED_CATS = [{"id": 1, "name": "aeroplane", "supercategory": ""}, {"id": 2, "name": "motorbike"},
                  {"id": 3, "name": "tvmonitor"}, {"id": 4, "name": "diningtable"}, {"id": 5, "name": "pottedplant"},
                  {"id": 6, "name": "person"}]


def test_coco_categories_with_voc_names_map_as_the_voc_reader_maps_them(tmp_path):
    write_image(tmp_path / "coco" / "a.jpg", 100, 80)
    gt = write_coco(tmp_path / "coco" / "instances_default.json",
                    [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
                    [{"id": k + 1, "image_id": 1, "category_id": k + 1, "bbox": [10, 10, 30, 30], "area": 900,
                      "iscrowd": 0} for k in range(6)], VOC_NAMED_CATS)
    ds = read_dataset(gt)
    voc_dir = tmp_path / "voc"
    (voc_dir / "Annotations").mkdir(parents=True)
    (voc_dir / "Annotations" / "a.xml").write_text(voc_xml("a.jpg", 100, 80, [(c["name"], 11, 11, 40, 40, 0)
                                                                              for c in VOC_NAMED_CATS]))
    voc = read_dataset(voc_dir)
    coco_keys = sorted(ds.classes[i].key for i in ds.images[0].labels)
    voc_keys = sorted(voc.classes[i].key for i in voc.images[0].labels)
    assert coco_keys == voc_keys  # trial 50: COCO kept 'aeroplane' … as classes of their own
    assert {ds.classes[i].name: ds.classes[i].wnid for i in ds.images[0].labels}["aeroplane"] == "n02691156"

    # and so an airplane detection (ILSVRC det_id 2, as detect run writes it) scores the COCO file's aeroplane
    pred = tmp_path / "boxes.json"
    pred.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
        "categories": [{"id": 2, "name": "airplane", "wnid": "n02691156"}],
        "detections": [{"image_id": 1, "category_id": 2, "bbox": [10, 10, 30, 30], "score": 0.9}]}))
    for g in (gt, voc_dir):
        m, per_class, _ = eval_json(g, pred, "voc", tmp_path)
        assert per_class["aeroplane"] == 1.0, (g, per_class)


def test_label_studio_yolo_export_folder_is_read_as_yolo_not_as_its_notes_json(tmp_path):
    # Label Studio's "YOLO" export: images/, labels/, classes.txt, notes.json — no data.yaml
    root = tmp_path / "project-1-at-2024-05-01"
    write_image(root / "images" / "1a2b3c4d-photo.jpg", 200, 100)
    (root / "labels").mkdir()
    (root / "labels" / "1a2b3c4d-photo.txt").write_text("1 0.25 0.5 0.1 0.2\n0 0.75 0.5 0.2 0.4\n")
    (root / "classes.txt").write_text("dog\nperson\n")
    (root / "notes.json").write_text(json.dumps({"categories": [{"id": 0, "name": "dog"}, {"id": 1, "name": "person"}],
                                                 "info": {"year": 2024, "version": "1.0",
                                                          "contributor": "Label Studio"}}, indent=2))
    ds = read_dataset(root)  # trial 50: "notes.json: not a COCO instances file"
    assert ds.format == "yolo" and len(ds) == 1 and ds.num_boxes == 2
    assert sorted(ds.classes[i].name for i in ds.images[0].labels) == ["dog", "person"]
    assert ds.images[0].boxes.tolist()[0] == [40.0, 40.0, 60.0, 60.0]
    # a COCO file in a YOLO-looking layout is still read as COCO
    (root / "notes.json").unlink()
    write_coco(root / "instances.json", [{"id": 1, "file_name": "images/1a2b3c4d-photo.jpg", "width": 200,
                                          "height": 100}], [], [{"id": 1, "name": "dog"}])
    assert read_dataset(root).format == "coco"


def test_label_studio_voc_export_finds_its_images_folder(tmp_path):
    # Label Studio's "Pascal VOC XML" export: Annotations/ and images/ (no JPEGImages/)
    root = tmp_path / "project-1-at-2024-05-01"
    write_image(root / "images" / "1a2b3c4d-photo.jpg", 200, 100)
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "1a2b3c4d-photo.xml").write_text(
        voc_xml("1a2b3c4d-photo.jpg", 200, 100, [("person", 11, 21, 50, 80, 0)]))
    ds = read_dataset(root)
    assert ds.images[0].path == root / "images" / "1a2b3c4d-photo.jpg"  # trial 50: "none of the image files was found"
    assert not [p for p in ds.problems if p.kind == "missing_image"]


def test_coco_metric_notes_ground_truth_areas_of_0(tmp_path):
    write_image(tmp_path / "a.jpg", 200, 200)
    gt = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 200}],
                    [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 150, 150], "area": 0, "iscrowd": 0}],
                    [{"id": 1, "name": "person"}])
    pred = tmp_path / "res.json"
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 150, 150], "score": 0.9}]))
    _, _, r = eval_json(gt, pred, "coco", tmp_path)
    assert "'area' 0" in r.output and "small" in r.output  # trial 50: APs 1.0, APl -1 without a word
    out = json.loads(sorted(tmp_path.glob("m*.json"))[-1].read_text())
    assert out["APs"] == pytest.approx(1.0) and out["APl"] == -1.0  # pycocotools' own numbers, unchanged


def test_formats_detect_does_not_read_are_named_not_sent_to_format(tmp_path):
    # Open Images' box CSV (and FiftyOne's export of it): no --format reads it, so "pass --format" misled
    oi = tmp_path / "oi"
    oi.mkdir()
    (oi / "validation-annotations-bbox.csv").write_text(
        "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,"
        "IsInside\n"
        "0001eeaf4aed83f9,xclick,/m/0cmf2,1,0.022673,0.964201,0.071038,0.800546,0,0,0,0,0\n")
    for p in (oi, oi / "validation-annotations-bbox.csv"):
        with pytest.raises(DatasetError) as e:
            read_dataset(p)
        assert "CSV" in str(e.value) and "pass --format" not in str(e.value)
    # CVAT for images 1.1 XML: one annotations.xml for the whole task
    cvat = tmp_path / "cvat"
    cvat.mkdir()
    (cvat / "annotations.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version><image id="0" name="a.jpg" '
        'width="64" height="48"><box label="person" occluded="0" xtl="1.00" ytl="2.00" xbr="30.00" ybr="40.00" '
        'z_order="0"></box></image></annotations>')
    with pytest.raises(DatasetError) as e:
        read_dataset(cvat)
    assert "CVAT" in str(e.value) and "COCO 1.0" in str(e.value)
