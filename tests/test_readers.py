import json
import re

import numpy as np
import pytest
from PIL import Image
from helpers import ilsvrc_xml, pennfudan_txt, voc_xml, write_coco, write_image

from detector.data import DatasetError, detect_format, read_dataset
from detector.data.coco import dataset_to_coco
from detector.data.readers import read_coco, read_ilsvrc, read_pennfudan, read_voc
from eval import PredictionError, read_predictions

COCO_CATS = [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}, {"id": 25, "name": "giraffe"}]


# ---------------------------------------------------------------------------------------------------- COCO
def coco_file(tmp_path, annotations=None):
    write_image(tmp_path / "images" / "a.jpg", 64, 48)
    images = [{"id": 7, "file_name": "a.jpg", "width": 64, "height": 48},
              {"id": 9, "file_name": "b.jpg", "width": 32, "height": 32}]
    if annotations is None:
        annotations = [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [1.5, 2, 10, 20], "area": 200, "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 25, "bbox": [0, 0, 30, 30], "area": 900, "iscrowd": 1},
            {"id": 3, "image_id": 9, "category_id": 18, "bbox": [4, 4, 8, 8], "area": 64, "iscrowd": 0},
        ]
    return write_coco(tmp_path / "annotations" / "instances.json", images, annotations, COCO_CATS)


def test_coco_reader(tmp_path):
    path = coco_file(tmp_path)
    assert detect_format(path) == "coco" and detect_format(tmp_path) == "coco"
    ds = read_dataset(tmp_path)
    assert ds.format == "coco" and len(ds) == 2 and ds.num_boxes == 3
    a, b = ds.images
    assert (a.image_id, a.width, a.height) == (7, 64, 48)
    np.testing.assert_allclose(a.boxes, [[1.5, 2, 11.5, 22], [0, 0, 30, 30]])
    assert a.boxes.dtype == np.float64  # the file's numbers unrounded (DESIGN.md: float64 for evaluation)
    assert a.iscrowd.tolist() == [False, True]
    assert a.path == tmp_path / "images" / "a.jpg"  # found in images/ beside annotations/
    assert b.path is None  # no such file
    names = [ds.classes[i].name for i in a.labels]
    assert names == ["person", "giraffe"]
    person = ds.classes[a.labels[0]]
    assert (person.wnid, person.det_id) == ("n00007846", 124)
    assert ds.classes[a.labels[1]].wnid is None  # giraffe: no ILSVRC equivalent, kept as its own class
    assert ds.class_counts() == {"dog": 1, "giraffe": 1, "person": 1}


def test_annotations_find_tiff_and_gif_images(tmp_path):
    """Trial 34: TIFF and GIF are inputs everywhere (detector.data.names), but the readers' image look-up knew only
    jpg/jpeg/png/bmp/webp: a COCO file_name 'a.tif' beside its annotations was "image file 'a.tif' not found" and
    the image left out of training; an ILSVRC stem with a .tif image was not found either."""
    names = ["a.tif", "b.gif", "c.TIFF", "d.Jpg"]
    for name in names:
        write_image(tmp_path / name, 16, 12)
    gt = write_coco(tmp_path / "gt.json", [{"id": k + 1, "file_name": n, "width": 16, "height": 12}
                                           for k, n in enumerate(names)], [], [{"id": 1, "name": "person"}])
    ds = read_coco(gt)
    assert [im.path for im in ds.images] == [tmp_path / n for n in names] and not ds.problems, ds.problems
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "e.xml").write_text(ilsvrc_xml("e", 16, 12, [("n00007846", 1, 1, 8, 8)]))
    write_image(tmp_path / "x" / "e.tiff", 16, 12)
    ds = read_ilsvrc(tmp_path / "x")
    assert ds.images[0].path == tmp_path / "x" / "e.tiff" and not ds.problems, ds.problems


def test_coco_malformed_json_names_file_and_line(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"images": [\n  {"id": 1,\n  oops}\n]}')
    with pytest.raises(DatasetError, match=r"bad\.json:3: not valid JSON"):
        read_dataset(p)
    ds = read_dataset(p, strict=False)  # inspect mode: listed, not fatal
    assert len(ds) == 0 and ds.problems[0].kind == "malformed" and ds.problems[0].line == 3


def test_coco_negative_width_is_an_error(tmp_path):
    ann = [{"id": 5, "image_id": 7, "category_id": 1, "bbox": [10, 10, -3, 4], "iscrowd": 0}]
    path = coco_file(tmp_path, ann)
    with pytest.raises(DatasetError, match=r"instances\.json: annotations\[0\] \(id 5\): bbox \[10, 10, -3, 4\] has "
                                          "a negative width"):
        read_coco(path)
    ds = read_coco(path, strict=False)
    assert ds.num_boxes == 0 and [p.kind for p in ds.problems] == ["inverted_box"]


def test_coco_problems_listed(tmp_path):
    ann = [
        {"id": 1, "image_id": 7, "category_id": 99, "bbox": [0, 0, 5, 5]},  # unknown category
        {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 0, 5]},  # zero area
        {"id": 3, "image_id": 7, "category_id": 1, "bbox": [60, 40, 10, 10]},  # outside the 64x48 image
        {"id": 4, "image_id": 123, "category_id": 1, "bbox": [0, 0, 5, 5]},  # unknown image
        {"id": 5, "image_id": 7, "category_id": 1, "bbox": [0, "x", 5, 5]},  # not numbers
    ]
    ds = read_coco(coco_file(tmp_path, ann), strict=False)
    kinds = sorted(p.kind for p in ds.problems)
    assert kinds == ["malformed", "malformed", "outside_image", "unknown_class", "zero_area"]
    assert ds.num_boxes == 2  # the zero-area and the outside box are kept (warnings)
    # warnings alone never make a strict read fail (an unknown category_id is an error: the box would be lost)
    ok = [a for a in ann if a["id"] in (2, 3)]
    assert read_coco(coco_file(tmp_path, ok)).num_boxes == 2


def test_round_trip_to_coco_json(tmp_path):
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [("person", 1, 1, 10, 20, 0),
                                                                           ("bottle", 5, 6, 50, 60, 1)]))
    ds = read_dataset(root)
    coco = dataset_to_coco(ds)
    out = tmp_path / "rt.json"
    out.write_text(json.dumps(coco))
    back = read_dataset(out)
    np.testing.assert_allclose(back.images[0].boxes, ds.images[0].boxes, atol=1e-3)
    assert [back.classes[i].key for i in back.images[0].labels] == [ds.classes[i].key for i in ds.images[0].labels]
    assert coco["annotations"][0]["bbox"] == [0.0, 0.0, 10.0, 20.0]
    assert coco["annotations"][0]["category_id"] == 124  # person's ILSVRC det_id
    # the difficult bottle comes back difficult (written as "ignore": 1, as scripts/default_split.py's files have it):
    # it was read back as a positive, so the validation files scored VOC's difficult objects as objects to find
    assert coco["annotations"][1]["ignore"] == 1 and coco["annotations"][1]["iscrowd"] == 0
    assert back.images[0].difficult.tolist() == ds.images[0].difficult.tolist() == [False, True]
    assert not back.images[0].iscrowd.any()


# -------------------------------------------------------------------------------------------------- ILSVRC
def ilsvrc_dir(tmp_path):
    d = tmp_path / "xml"
    d.mkdir()
    (d / "img_b.xml").write_text(ilsvrc_xml("img_b", 50, 40, [("n00007846", 0, 0, 9, 19), ("n02084071", 10, 10, 10, 10)]))
    (d / "img_a.xml").write_text(ilsvrc_xml("img_a", 30, 30, []))
    return d


def test_ilsvrc_reader(tmp_path):
    d = ilsvrc_dir(tmp_path)
    write_image(tmp_path / "images" / "img_b.JPEG", 50, 40)
    assert detect_format(d) == "ilsvrc"
    ds = read_dataset(d)
    assert len(ds.classes) == 200 and ds.classes[0].name == "accordion"
    assert [im.file_name for im in ds.images] == ["img_a", "img_b"]
    assert [im.image_id for im in ds.images] == [1, 2]
    b = ds.images[1]
    np.testing.assert_allclose(b.boxes, [[0, 0, 10, 20], [10, 10, 11, 11]])  # 0-based inclusive → +1
    assert [ds.classes[i].det_id for i in b.labels] == [124, 58]
    assert b.path == tmp_path / "images" / "img_b.JPEG"
    assert ds.images[0].path is None and len(ds.images[0]) == 0


def test_ilsvrc_image_list(tmp_path):
    d = ilsvrc_dir(tmp_path)
    lst = tmp_path / "val.txt"
    lst.write_text("img_b 17\nimg_missing 18\n")
    ds = read_ilsvrc(d, image_list=lst, strict=False)
    assert [(im.file_name, im.image_id) for im in ds.images] == [("img_b", 17)]
    assert ds.problems[0].kind == "missing_annotation"
    lst.write_text("img_b 17\nimg_a x\n")
    with pytest.raises(DatasetError, match=r"val\.txt:2: index is not an integer"):
        read_ilsvrc(d, image_list=lst)


def test_ilsvrc_inverted_and_malformed(tmp_path):
    d = ilsvrc_dir(tmp_path)
    (d / "img_c.xml").write_text(ilsvrc_xml("img_c", 50, 40, [("n00007846", 20, 5, 10, 9)]))
    with pytest.raises(DatasetError, match=r"img_c\.xml \(object 0\): 'n00007846' <bndbox> \(xmin 20, ymin 5, "
                                          r"xmax 10, ymax 9\) has xmax < xmin"):
        read_dataset(d)
    (d / "img_c.xml").write_text("<annotation>\n<size><width>5</width>\n</annotation>")
    with pytest.raises(DatasetError, match=r"img_c\.xml:3: not valid XML"):
        read_dataset(d)
    ds = read_dataset(d, strict=False)
    assert len(ds) == 2 and ds.problems[0].kind == "malformed"


def test_ilsvrc_unknown_wnid_kept_as_own_class(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    (d / "a.xml").write_text(ilsvrc_xml("a", 50, 40, [("n99999999", 0, 0, 5, 5)]))
    ds = read_dataset(d, "ilsvrc")
    assert len(ds.classes) == 201 and ds.classes[200].name == "n99999999"
    assert ds.problems[0].kind == "unknown_class"


# ----------------------------------------------------------------------------------------------------- VOC
def voc_root(tmp_path):
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "Annotations" / "2007_000001.xml").write_text(
        voc_xml("2007_000001.jpg", 100, 80, [("person", 1, 1, 10, 20, 0), ("dog", 11, 12, 40, 50, 1)]))
    (root / "Annotations" / "2007_000002.xml").write_text(
        voc_xml("2007_000002.jpg", 60, 60, [("unicorn", 1, 1, 5, 5, 0)]))
    (root / "ImageSets" / "Main" / "val.txt").write_text("2007_000001\n")
    write_image(root / "JPEGImages" / "2007_000001.jpg", 100, 80)
    return root


def test_voc_layout(tmp_path):
    root = voc_root(tmp_path)
    assert detect_format(root) == "voc"
    ds = read_dataset(root)
    assert len(ds) == 2 and ds.num_boxes == 3
    a = ds.images[0]
    np.testing.assert_allclose(a.boxes, [[0, 0, 10, 20], [10, 11, 40, 50]])  # 1-based inclusive → -1 on x1, y1
    assert a.difficult.tolist() == [False, True]
    assert a.path == root / "JPEGImages" / "2007_000001.jpg"
    assert ds.classes[a.labels[0]].wnid == "n00007846"
    unicorn = ds.classes[ds.images[1].labels[0]]
    assert unicorn.name == "unicorn" and unicorn.wnid is None
    assert [p.kind for p in ds.problems] == ["unknown_class"]


def test_voc_image_set(tmp_path):
    root = voc_root(tmp_path)
    ds = read_dataset(root / "ImageSets" / "Main" / "val.txt")
    assert ds.format == "voc" and [im.file_name for im in ds.images] == ["2007_000001.jpg"]
    assert ds.images[0].path is not None
    # a class's set names the whole set, each image with its label (trial 33: the -1 images were left out, so every
    # class was scored on the person images alone)
    (root / "ImageSets" / "Main" / "person_val.txt").write_text("2007_000001  1\n2007_000002 -1\n")
    ds = read_dataset(root / "ImageSets" / "Main" / "person_val.txt")
    assert [im.file_name for im in ds.images] == ["2007_000001.jpg", "2007_000002.jpg"]
    # its suffix in any case, as the format is told (trial 34: VAL.TXT was told VOC, then read as XML: "not valid XML")
    (root / "ImageSets" / "Main" / "VAL.TXT").write_text("2007_000001\n")
    ds = read_dataset(root / "ImageSets" / "Main" / "VAL.TXT")
    assert ds.format == "voc" and [im.file_name for im in ds.images] == ["2007_000001.jpg"] and not ds.problems
    # and the XML files it names by their suffix in any case, as a folder's are found (trial 34: "listed in the image
    # set but the XML file does not exist" of a 2007_000001.XML)
    xml = root / "Annotations" / "2007_000001.xml"
    xml.rename(xml.with_suffix(".XML"))
    ds = read_dataset(root / "ImageSets" / "Main" / "val.txt")
    assert [im.file_name for im in ds.images] == ["2007_000001.jpg"] and not ds.problems, ds.problems


def test_voc_image_set_listing_an_image_twice_is_refused(tmp_path):
    """A line repeated in an image set (two lists concatenated) read the image twice, and detect eval then blamed
    the prediction file ("fits two ground-truth images equally well: name the image by a longer path"): the image
    set is named, with both lines."""
    root = voc_root(tmp_path)
    (root / "ImageSets" / "Main" / "dup.txt").write_text("2007_000001\n2007_000002\n2007_000001\n")
    with pytest.raises(DatasetError, match=r"dup\.txt:3: image '2007_000001' is listed twice \(also line 1\)"):
        read_dataset(root / "ImageSets" / "Main" / "dup.txt")


def test_voc_flat_folder(tmp_path):
    d = tmp_path / "flat"
    d.mkdir()
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [("cat", 1, 1, 10, 20, 0)]))
    write_image(d / "x.jpg", 100, 80)
    assert detect_format(d) == "voc"
    ds = read_dataset(d)
    assert ds.images[0].path == d / "x.jpg" and ds.classes[ds.images[0].labels[0]].name == "cat"
    (d / "y.XML").write_text(voc_xml("y.jpg", 100, 80, [("dog", 1, 1, 10, 20, 0)]))  # trial 33: not found
    assert [im.file_name for im in read_dataset(d).images] == ["x.jpg", "y.jpg"]
    (d / "x.XML").write_text(voc_xml("x.jpg", 100, 80, [("dog", 1, 1, 10, 20, 0)]))  # beside x.xml: one image
    assert [im.file_name for im in read_dataset(d).images] == ["x.jpg", "y.jpg"]  # (trial 35: counted twice)


def test_voc_inverted_box(tmp_path):
    d = tmp_path / "flat"
    d.mkdir()
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [("cat", 1, 1, 10, 20, 0), ("cat", 30, 1, 10, 20, 0)]))
    with pytest.raises(DatasetError, match=r"x\.xml \(object 1\).*xmax < xmin"):
        read_voc(d)


# ---------------------------------------------------------------------------------------------- Penn-Fudan
def test_pennfudan(tmp_path):
    root = tmp_path / "PennFudanPed"
    (root / "Annotation").mkdir(parents=True)
    (root / "Annotation" / "FudanPed00001.txt").write_text(
        pennfudan_txt("FudanPed00001.png", 559, 536, [(160, 182, 302, 431), (420, 171, 535, 486)]))
    write_image(root / "PNGImages" / "FudanPed00001.png", 559, 536)
    assert detect_format(root) == "pennfudan"
    ds = read_dataset(root)
    im = ds.images[0]
    np.testing.assert_allclose(im.boxes, [[159, 181, 302, 431], [419, 170, 535, 486]])
    assert (im.width, im.height) == (559, 536)
    assert im.path == root / "PNGImages" / "FudanPed00001.png"
    assert ds.classes[0].wnid == "n00007846" and ds.class_counts() == {"person": 2}


def test_pennfudan_malformed_line(tmp_path):
    p = tmp_path / "x.txt"
    text = pennfudan_txt("x.png", 100, 100, [(1, 1, 10, 10)]).replace("(1, 1) - (10, 10)", "(1, 1) - (ten, 10)")
    p.write_text(text)
    assert detect_format(p) == "pennfudan"
    with pytest.raises(DatasetError, match=r"x\.txt:8: cannot read the box"):
        read_pennfudan(p)


# ---------------------------------------------------------------------------------------------- detection
def test_missing_path_and_unknown_format(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        read_dataset(tmp_path / "nope")
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(DatasetError, match="cannot tell|no COCO"):
        read_dataset(tmp_path)


# ------------------------------------------------------------------------------------- issue 12, kinds 3(a), 4
def test_voc_image_is_the_annotation_files_id(tmp_path):
    # the VOC devkit: Annotations/<id>.xml ↔ JPEGImages/<id>.jpg (VOCopts.imgpath); <filename> left stale by a
    # renaming is not the image
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "site_01.xml").write_text(voc_xml("IMG_1234.jpg", 100, 80, [("person", 1, 1, 10, 20, 0)]))
    (root / "Annotations" / "site_02.xml").write_text(voc_xml("site_02.png", 100, 80, []))
    write_image(root / "JPEGImages" / "site_01.jpg", 100, 80)
    ds = read_dataset(root)
    a, b = ds.images
    assert (a.file_name, a.path) == ("site_01.jpg", root / "JPEGImages" / "site_01.jpg")
    assert (b.file_name, b.path) == ("site_02.png", None)  # not on disk: the id with the tag's extension
    assert [(p.kind, p.severity) for p in ds.problems] == [("filename_mismatch", "warning")]
    assert "IMG_1234.jpg" in ds.problems[0].message and ds.problems[0].file.endswith("site_01.xml")


def test_voc_filename_tag_is_the_fallback(tmp_path):
    # no image named like the annotation, but one named by <filename>: that one (and a warning)
    d = tmp_path / "flat"
    d.mkdir()
    (d / "ann_7.xml").write_text(voc_xml("photo.png", 100, 80, [("cat", 1, 1, 10, 20, 0)]))
    write_image(d / "photo.png", 100, 80)
    ds = read_dataset(d)
    assert (ds.images[0].file_name, ds.images[0].path) == ("photo.png", d / "photo.png")
    assert ds.problems[0].kind == "filename_mismatch"


@pytest.mark.parametrize("encoding", ["gb2312", "shift_jis", "big5", "cp1252", "utf-16"])
def test_xml_in_its_declared_encoding(tmp_path, encoding):
    # XML 1.0 §4.3.3: the declaration names the encoding; expat alone refuses multi-byte codecs ("multi-byte
    # encodings are not supported", a ValueError that escaped as a traceback)
    name = {"gb2312": "行人", "shift_jis": "歩行者", "big5": "行人", "cp1252": "café", "utf-16": "行人"}[encoding]
    text = voc_xml(f"{name}.jpg", 100, 80, [("person", 1, 1, 10, 20, 0)]).replace(
        "<folder>VOC2012</folder>", f"<folder>{name}</folder>")
    d = tmp_path / "xml"
    d.mkdir()
    (d / "x.xml").write_bytes(f'<?xml version="1.0" encoding="{encoding}"?>\n{text}'.encode(encoding))
    assert detect_format(d) == "voc"
    ds = read_dataset(d)
    assert ds.num_boxes == 1 and ds.classes[ds.images[0].labels[0]].name == "person"
    assert name in ds.problems[0].message  # the <filename> tag, decoded (it differs from the file's id "x")


@pytest.mark.parametrize("content,message", [
    (b'<?xml version="1.0" encoding="no-such-codec"?><annotation/>', "declares encoding 'no-such-codec'"),
    ('<?xml version="1.0" encoding="gb2312"?><a>x</a>'.encode() + b"\xff\xff", "is not gb2312 text"),
    (b"\x00\x9c\xff binary junk", "not valid XML"),
    (b"", "not valid XML: no element found"),
    (b"<annotation><size><width>5</width>", r":1: not valid XML"),
    # trial 47: Latin-1 bytes, without a declaration or declaring UTF-8, were "not well-formed (invalid token)"
    (b"<annotation>\n<name>caf\xe9</name></annotation>", r":2: not readable XML: it is not UTF-8 text \(byte 22\)"),
    (b'<?xml version="1.0" encoding="UTF-8"?><annotation><name>caf\xe9</name></annotation>',
     r":1: not readable XML: it declares UTF-8 but is not UTF-8 text .*save it as UTF-8"),
])
def test_unreadable_xml_names_the_file(tmp_path, content, message):
    d = tmp_path / "xml"
    d.mkdir()
    (d / "a.xml").write_text(voc_xml("a.jpg", 100, 80, []))
    (d / "bad.xml").write_bytes(content)
    with pytest.raises(DatasetError, match=rf"bad\.xml.*{message}"):
        read_dataset(d, "voc")
    ds = read_dataset(d, "voc", strict=False)  # inspect: listed, the rest read
    assert len(ds) == 1 and [p.file for p in ds.problems] == [str(d / "bad.xml")]


def test_folder_named_like_an_annotation_file(tmp_path):
    # what an unreadable file looks like to a root user: open() fails (here: a folder named *.xml / *.json)
    d = tmp_path / "xml"
    d.mkdir()
    (d / "a.xml").write_text(voc_xml("a.jpg", 100, 80, []))
    (d / "locked.xml").mkdir()
    with pytest.raises(DatasetError, match=r"locked\.xml: cannot read: Is a directory"):
        read_dataset(d, "voc")
    assert [p.kind for p in read_dataset(d, "voc", strict=False).problems] == ["unreadable"]
    c = tmp_path / "coco"
    (c / "gt.json").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"gt\.json: cannot read: Is a directory"):
        read_dataset(c)
    assert read_dataset(c, strict=False).problems[0].kind == "unreadable"


@pytest.mark.parametrize("content,message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "a PNG image, not a COCO instances file"),
    (b"abc\x80", r"not UTF-8 text \(invalid start byte at byte 3\), not a COCO instances file"),
    (b"", "the file is empty: not a COCO instances file"),
    (b'{"images": [', r":1: not valid JSON"),
    (b"[1, 2, 3]", "not a COCO instances file.*got list"),
    (b'{"images": [], "categories": [], "annotations": {}}', "'annotations' must be a list, got an object"),
    (b'{"images": {"1": {}}, "categories": [], "annotations": []}', "'images' must be a list, got an object"),
    (b'{"images": [], "categories": "person"}', "'categories' must be a list, got a string"),
])
def test_unreadable_coco_json_names_the_file(tmp_path, content, message):
    p = tmp_path / "gt.json"
    p.write_bytes(content)
    with pytest.raises(DatasetError, match=rf"gt\.json.*{message}"):
        read_dataset(p)


def test_coco_json_with_a_byte_order_mark(tmp_path):
    # RFC 8259 §8.1: a parser may ignore a BOM; editors on Windows write one
    p = tmp_path / "gt.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 5, "height": 5}],
                                                "annotations": [], "categories": []}).encode())
    assert len(read_dataset(p)) == 1


def test_coco_image_ids(tmp_path):
    def gt(ids):
        return write_coco(tmp_path / "gt.json",
                          [{"id": i, "file_name": f"{k}.jpg", "width": 10, "height": 10} for k, i in enumerate(ids)],
                          [{"id": 1, "image_id": ids[0], "category_id": 1, "bbox": [0, 0, 5, 5]}], COCO_CATS)
    ds = read_dataset(gt(["000123", "b"]))  # strings, as pycocotools takes them
    assert [im.image_id for im in ds.images] == ["000123", "b"] and ds.num_boxes == 1 and ds.id_source == "file"
    assert [im.image_id for im in read_dataset(gt([3.0, 4])).images] == [3, 4]
    with pytest.raises(DatasetError, match=r"images\[1\]\.id 7 is an integer but images\[0\]\.id is a string"):
        read_dataset(gt(["a", 7]))
    with pytest.raises(DatasetError, match=r"images\[0\]\.id must be an integer or a string, got 1\.5"):
        read_dataset(gt([1.5]))


def test_image_list_keeps_folders_and_blanks(tmp_path):
    from detector.data import read_image_list

    lst = tmp_path / "list.txt"
    lst.write_text("cam_a/0001.jpg 1\nmy photos/x.JPEG 2\nILSVRC2012_val_00000001 3\n")
    assert read_image_list(lst) == [("cam_a/0001", 1), ("my photos/x", 2), ("ILSVRC2012_val_00000001", 3)]
    lst.write_bytes(b"\x80\x81 1\n")
    with pytest.raises(DatasetError, match=r"list\.txt: not UTF-8 text \(invalid start byte at byte 0\), not an image "
                                          r"list"):
        read_image_list(lst)
    lst.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    with pytest.raises(DatasetError, match=r"list\.txt: a JPEG image, not an image list"):
        read_image_list(lst)


def test_image_list_names_and_indices_once(tmp_path):
    # trial 30: a name listed twice was read twice (detect inspect counted its boxes twice), and an index given to
    # two images numbered submission lines to whichever came last, without a word
    from detector.data import read_image_list

    lst = tmp_path / "list.txt"
    lst.write_text("a 1\nb 2\na.jpg 3\n")
    with pytest.raises(DatasetError, match=r"list\.txt:3: image 'a' is listed twice \(also line 1\)"):
        read_image_list(lst)
    lst.write_text("a 1\nb 2\nc 1\n")
    with pytest.raises(DatasetError, match=r"list\.txt:3: index 1 numbers two images: 'c' and 'a' \(line 1\)"):
        read_image_list(lst)


# ------------------------------------------------------------------- user trial: errors say where, as the file says
def test_coco_unknown_category_id_is_an_error(tmp_path):
    # a box of a category the file does not define was dropped with a warning: the metric then ran on fewer
    # objects than the file holds, silently
    ann = [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5]},
           {"id": 2, "image_id": 7, "category_id": 99, "bbox": [1, 1, 5, 5]}]
    path = coco_file(tmp_path, ann)
    with pytest.raises(DatasetError, match=r"instances\.json: annotations\[1\] \(id 2\): category_id 99 is not "
                                          r"among the file's categories \(ids 1, 18, 25\)"):
        read_coco(path)
    ds = read_coco(path, strict=False)  # detect inspect: listed as an error, the rest read
    assert [(p.kind, p.severity) for p in ds.problems] == [("unknown_class", "error")] and ds.num_boxes == 1
    del ann[1]["category_id"]
    with pytest.raises(DatasetError, match=r"annotations\[1\] \(id 2\) lacks 'category_id'"):
        read_coco(coco_file(tmp_path, ann))


@pytest.mark.parametrize("bbox,message", [
    ("[10, 10, -3, 4]", r"bbox \[10, 10, -3, 4\] has a negative width"),
    ("[10.5, 10, 3, -4.25]", r"bbox \[10\.5, 10, 3, -4\.25\] has a negative height"),
    ("[10, 10, -3, -4]", r"bbox \[10, 10, -3, -4\] has a negative width and height"),
    ("[1, 2, NaN, 4]", r"bbox \[1, 2, NaN, 4\] has a non-finite number"),
    ("[1, 2, Infinity, 4]", r"bbox \[1, 2, Infinity, 4\] has a non-finite number"),
])
def test_coco_box_errors_name_the_annotation_and_its_bbox(tmp_path, bbox, message):
    # the third annotation of the file, the second of its image: the message named "object 1" of the image and
    # the converted xyxy box, neither of which the user finds in the file
    path = tmp_path / "ann.json"
    path.write_text('{"images": [{"id": 7, "file_name": "a.jpg", "width": 64, "height": 48}, '
                    '{"id": 8, "file_name": "b.jpg", "width": 64, "height": 48}], '
                    '"categories": [{"id": 1, "name": "person"}], "annotations": ['
                    '{"id": 11, "image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5]}, '
                    '{"id": 12, "image_id": 8, "category_id": 1, "bbox": [0, 0, 5, 5]}, '
                    f'{{"id": 13, "image_id": 7, "category_id": 1, "bbox": {bbox}}}]}}')
    with pytest.raises(DatasetError, match=rf"ann\.json: annotations\[2\] \(id 13\): {message}$"):
        read_coco(path)


@pytest.mark.parametrize("value", ['"yes"', "2", "-1", "0.5"])
def test_coco_iscrowd_must_be_0_or_1(tmp_path, value):
    # user trial: any truthy value silently made the object a crowd region (ignored by the metric)
    ann = [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": json.loads(value)}]
    with pytest.raises(DatasetError, match=r"annotations\[0\] \(id 1\): iscrowd must be 0 or 1, got "):
        read_coco(coco_file(tmp_path, ann))
    for ok, crowd in [(0, False), (1, True), (None, False), (True, True), (1.0, True)]:
        ann[0]["iscrowd"] = ok
        assert read_coco(coco_file(tmp_path, ann)).images[0].iscrowd.tolist() == [crowd]


@pytest.mark.parametrize("value", ['"yes"', "2", "-1", "0.5"])
def test_coco_ignore_is_difficult_and_must_be_0_or_1(tmp_path, value):
    ann = [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "ignore": json.loads(value)}]
    with pytest.raises(DatasetError, match=r"annotations\[0\] \(id 1\): ignore must be 0 or 1, got "):
        read_coco(coco_file(tmp_path, ann))
    for ok, difficult in [(0, False), (1, True), (None, False), (True, True), (False, False)]:
        ann[0]["ignore"] = ok
        im = read_coco(coco_file(tmp_path, ann)).images[0]
        assert im.difficult.tolist() == [difficult] and im.iscrowd.tolist() == [False]
    ann[0]["iscrowd"] = 1  # a crowd region is that, not also difficult
    im = read_coco(coco_file(tmp_path, ann)).images[0]
    assert im.difficult.tolist() == [False] and im.iscrowd.tolist() == [True]


def test_coco_box_warnings_name_the_annotation_and_its_bbox(tmp_path):
    ann = [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5]},
           {"id": 2, "image_id": 7, "category_id": 1, "bbox": [3, 4, 0, 5]},
           {"image_id": 7, "category_id": 1, "bbox": [60.5, 40, 10, 10]},
           {"image_id": 7, "category_id": 1, "bbox": [-15, -5, 10, 3]}]
    ds = read_coco(coco_file(tmp_path, ann))
    assert [str(p).split(": ", 1)[1] for p in ds.problems] == [
        "annotations[1] (id 2): bbox [3, 4, 0, 5] has zero area",
        "annotations[2]: bbox [60.5, 40, 10, 10] extends outside the 64x48 image",
        "annotations[3]: bbox [-15, -5, 10, 3] lies wholly outside the 64x48 image"]  # trial 22: "extends"
    assert all(p.obj is None for p in ds.problems)  # no "object k" of the image


def test_xml_box_errors_name_the_object_and_its_bndbox(tmp_path):
    d = tmp_path / "voc"
    d.mkdir()
    objs = [("person", 1, 1, 10, 20, 0), ("dog", "30.50", "1", "10", "20", 0)]
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, objs))
    with pytest.raises(DatasetError, match=r"x\.xml \(object 1\): 'dog' <bndbox> \(xmin 30\.50, ymin 1, xmax 10, "
                                          r"ymax 20\) has xmax < xmin$"):
        read_voc(d)
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [objs[0], ("dog", 1, 1, "nan", 20, 0)]))
    with pytest.raises(DatasetError, match=r"x\.xml \(object 1\): 'dog' <bndbox> \(xmin 1, ymin 1, xmax nan, "
                                          r"ymax 20\) has a non-finite number$"):
        read_voc(d)
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [objs[0], ("dog", 1, 1, "ten", 20, 0)]))
    with pytest.raises(DatasetError, match=r"x\.xml \(object 1\): 'dog' <bndbox>: <xmax> is not a number: 'ten'$"):
        read_voc(d)
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [objs[0], ("dog", 1, 1, 120, 20, 0)]))
    outside = "(object 1): 'dog' <bndbox> (xmin 1, ymin 1, xmax 120, ymax 20) extends outside the 100x80 image"
    assert [str(p) for p in read_voc(d).problems] == [f"{d / 'x.xml'} {outside}"]
    # an object without its box says which tag it lacks (trial 22: "<name> or <bndbox>")
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, objs[:1]).replace(
        "</annotation>", "<object><name>cat</name></object></annotation>"))
    with pytest.raises(DatasetError, match=r"x\.xml \(object 1\): object lacks <bndbox>$"):
        read_voc(d)
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, objs[:1]).replace(  # trial 32: it "lacked" an empty <name>
        "</annotation>", "<object><name> </name><bndbox><xmin>1</xmin></bndbox></object></annotation>"))
    with pytest.raises(DatasetError, match=r"x\.xml \(object 1\): object has an empty <name>$"):
        read_voc(d)


def test_pennfudan_box_errors_name_the_line_and_box_as_written(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text(pennfudan_txt("x.png", 100, 100, [(1, 1, 10, 10), (50, 60, 40, 70)]))
    with pytest.raises(DatasetError, match=r"x\.txt:12: object 2 'PASpersonWalking' box \(50, 60\) - \(40, 70\) has "
                                          r"xmax < xmin$"):
        read_pennfudan(p)


def test_coco_entries_name_the_field_they_lack(tmp_path):
    from click.testing import CliRunner

    from cli.main import cli
    from detector.data.io import missing_fields

    assert missing_fields({"id": 1}, "id", "file_name") == "lacks 'file_name'"
    assert missing_fields({}, "id", "name", "x") == "lacks 'id', 'name' and 'x'"
    assert missing_fields([1], "id") == "is not an object (a list)"
    assert missing_fields({"id": 1, "name": "a"}, "id", "name") is None
    p = tmp_path / "gt.json"
    p.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9}, {"id": 2}],
                             "annotations": [{"image_id": 1, "category_id": 1}],
                             "categories": [{"id": 1, "name": "person"}, {"name": "dog"}]}))
    res = CliRunner().invoke(cli, ["inspect", str(p)])
    assert "categories[1] lacks 'id'" in res.output
    assert "images[1] lacks 'file_name'" in res.output
    assert "annotations[0] lacks 'bbox'" in res.output


# ------------------------------------------------------------------------ user trial (round 5): silent misreads
def test_coco_duplicate_category_id_is_an_error(tmp_path):
    # a second {"id": 1, "name": "dog"} silently turned every person into a dog (pycocotools keeps the last):
    # mAP 0 and `detect inspect` said 0 problems
    path = coco_file(tmp_path)
    data = json.loads(path.read_text())
    data["categories"].append({"id": 1, "name": "dog"})
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"instances\.json: categories\[3\]: duplicate category id 1 \('dog'; "
                                          r"categories\[0\] is 'person' with that id\)"):
        read_coco(path)
    ds = read_coco(path, strict=False)
    assert [p.kind for p in ds.problems] == ["malformed"]
    assert ds.classes[ds.images[0].labels[0]].name == "person"  # the first keeps its boxes
    data["categories"][3] = {"id": 1, "name": "person"}  # the same category twice: harmless
    path.write_text(json.dumps(data))
    assert read_coco(path).num_boxes == 3


def test_coco_duplicate_file_name_is_an_error(tmp_path):
    for second in ("x.jpg", "./x.jpg"):
        path = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "x.jpg", "width": 10, "height": 10},
                                                 {"id": 2, "file_name": second, "width": 10, "height": 10}],
                          [], COCO_CATS)
        with pytest.raises(DatasetError, match=rf"gt\.json: images\[1\] \(id 2\): duplicate file_name "
                                              rf"'{re.escape(second)}' \(images\[0\] has it too\)"):
            read_coco(path)


@pytest.mark.parametrize("bbox", [[1e308, 0, 1e308, 5], [1e300, 1e300, 1e300, 1e300]])  # x + w; the area
def test_coco_box_beyond_float_range_is_not_finite(tmp_path, recwarn, bbox):
    ann = [{"id": 1, "image_id": 7, "category_id": 1, "bbox": bbox}]
    with pytest.raises(DatasetError, match=r"annotations\[0\] \(id 1\): bbox \[1e\+30\d, .*\] has a number too "
                                          "large for a box"):
        read_coco(coco_file(tmp_path, ann))
    p = tmp_path / "res.json"  # a prediction too (it was accepted)
    p.write_text(json.dumps([{"image_id": 7, "category_id": 1, "bbox": bbox, "score": 0.5}]))
    with pytest.raises(PredictionError, match=r"res\.json: \[0\]: bbox .* has a number too large for a box"):
        read_predictions(p)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("text,difficult", [("0", False), ("0.0", False), ("false", False), ("False", False),
                                            ("", False), ("1", True), ("1.0", True), ("true", True)])
def test_voc_difficult_as_the_devkit_reads_it(tmp_path, text, difficult):
    d = tmp_path / "flat"
    d.mkdir()
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [("cat", 1, 1, 10, 20, text)]))
    ds = read_voc(d)
    assert ds.images[0].difficult.tolist() == [difficult] and not ds.problems


@pytest.mark.parametrize("text", ["maybe", "2", "-1", "nan"])
def test_voc_difficult_of_another_value_is_a_warning(tmp_path, text):
    d = tmp_path / "flat"
    d.mkdir()
    (d / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [("cat", 1, 1, 10, 20, text)]))
    ds = read_voc(d)
    assert ds.images[0].difficult.tolist() == [True]
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("warning", f"object 'cat': <difficult>{text}</difficult> is not 0 or 1 (read as 1)")]


def test_image_file_named_in_another_unicode_form_is_found(tmp_path):
    import unicodedata

    nfd = unicodedata.normalize("NFD", "café.jpg")
    write_image(tmp_path / "images" / nfd, 64, 48)  # as macOS writes the name
    path = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "café.jpg", "width": 64, "height": 48}], [],
                      COCO_CATS)
    assert read_coco(path).images[0].path == tmp_path / "images" / nfd


def test_pennfudan_object_count_that_disagrees_is_a_warning(tmp_path):
    f = tmp_path / "Annotation" / "p.txt"
    f.parent.mkdir()
    f.write_text(pennfudan_txt("p.png", 100, 80, [(1, 1, 10, 20), (20, 5, 40, 60)]).replace(
        "Objects with ground truth : 2", "Objects with ground truth : 3"))
    ds = read_pennfudan(tmp_path)
    assert ds.num_boxes == 2
    assert [(p.severity, p.line, p.message) for p in ds.problems] == [
        ("warning", 5, "'Objects with ground truth : 3' but 2 Bounding box lines follow")]


def test_pennfudan_two_annotations_of_one_image_are_an_error(tmp_path):
    """User trial 24: an annotation copied and edited (FudanPed00002.txt still naming FudanPed00001.png) gave two
    images of one name with no problem in `detect inspect`; `detect eval` then refused the predictions as fitting "two
    ground-truth images equally well", and training would have read the one image twice."""
    ann = tmp_path / "Annotation"
    ann.mkdir()
    (tmp_path / "PNGImages").mkdir()
    Image.new("RGB", (100, 80)).save(tmp_path / "PNGImages" / "FudanPed00001.png")  # no FudanPed00002.png
    text = pennfudan_txt("FudanPed00001.png", 100, 80, [(1, 1, 10, 20)])
    (ann / "FudanPed00001.txt").write_text(text)
    (ann / "FudanPed00002.txt").write_text(text)
    ds = read_pennfudan(tmp_path, strict=False)
    assert [im.file_name for im in ds.images] == ["FudanPed00001.png"]
    assert [(p.severity, p.kind, p.file.rsplit("/", 1)[-1], p.message) for p in ds.problems] == [
        ("warning", "filename_mismatch", "FudanPed00002.txt",
         "'Image filename' is 'FudanPed00001.png' but the annotation file is FudanPed00002.txt: no image named "
         "FudanPed00002.* was found, so the image is FudanPed00001.png (by 'Image filename')"),
        ("error", "malformed", "FudanPed00002.txt",
         "'Image filename' 'FudanPed00001.png' is also that of FudanPed00001.txt: two annotations of one image")]
    with pytest.raises(DatasetError, match=r"FudanPed00002\.txt: 'Image filename' 'FudanPed00001\.png' is also"):
        read_pennfudan(tmp_path)


def _pennfudan_root(tmp_path, image: str, annotations: dict):
    """A Penn-Fudan root holding ``PNGImages/<image>`` (100 x 80) and ``Annotation/<name>`` = text for each of
    ``annotations``; returns the images folder."""
    ann, png = tmp_path / "Annotation", tmp_path / "PNGImages"
    ann.mkdir()
    png.mkdir()
    Image.new("RGB", (100, 80)).save(png / image)
    for name, text in annotations.items():
        (ann / name).write_text(text)
    return png


def test_pennfudan_image_is_the_annotation_files_own_name_first(tmp_path):
    """Trial 47: an annotation whose 'Image filename' line names another image (FudanPed00099.png, not there) was
    reported as "image file 'FudanPed00099.png' not found" though FudanPed00003.png lay beside the others; as VOC's
    <filename>, the annotation file's name comes first and the line's is the fallback."""
    png = _pennfudan_root(tmp_path, "FudanPed00003.png",
                          {"FudanPed00003.txt": pennfudan_txt("FudanPed00099.png", 100, 80, [(1, 1, 10, 20)])})
    ds = read_pennfudan(tmp_path)
    assert [(im.file_name, im.path) for im in ds.images] == [("FudanPed00003.png", png / "FudanPed00003.png")]
    assert [p.message.split(": ", 1)[1] for p in ds.problems] == [
        "the image is taken to be FudanPed00003.png (by the annotation file's name)"]


def test_pennfudan_the_file_of_the_images_name_wins_over_a_copy_naming_it(tmp_path):
    """Trial 52: A_copy.txt (sorting first; no image of its name) naming FudanPed00001.png by its line took that
    image, and the real FudanPed00001.txt was the one refused as "two annotations of one image"."""
    two = [(1, 1, 10, 20), (30, 1, 50, 40)]
    _pennfudan_root(tmp_path, "FudanPed00001.png",
                    {"FudanPed00001.txt": pennfudan_txt("FudanPed00001.png", 100, 80, two),
                     "A_copy.txt": pennfudan_txt("FudanPed00001.png", 100, 80, [(5, 5, 9, 9)])})
    ds = read_pennfudan(tmp_path, strict=False)
    assert [(im.file_name, len(im.boxes)) for im in ds.images] == [("FudanPed00001.png", 2)]
    errors = [(p.file.rsplit("/", 1)[-1], p.message) for p in ds.problems if p.severity == "error"]
    assert errors == [("A_copy.txt", "'Image filename' 'FudanPed00001.png' is also that of FudanPed00001.txt: two "
                                     "annotations of one image")]


def test_pennfudan_image_found_by_stem_with_any_suffix(tmp_path):
    """Trial 52: PNGImages converted to .jpg, annotations unchanged: "none of the 2 image files was found"."""
    png = _pennfudan_root(tmp_path, "FudanPed00001.jpg",
                          {"FudanPed00001.txt": pennfudan_txt("FudanPed00001.png", 100, 80, [(1, 1, 10, 20)])})
    ds = read_pennfudan(tmp_path)
    assert [(im.file_name, im.path) for im in ds.images] == [("FudanPed00001.jpg", png / "FudanPed00001.jpg")]
    assert not ds.problems


@pytest.mark.parametrize("size_line", ["Image size (X x Y x C) : 0 x 0 x 3", None])
def test_pennfudan_size_zero_or_missing_is_measured_from_the_image(tmp_path, size_line):
    # user trial 24: "Image size 0 x 0" was taken silently (boxes unchecked, the record 0 x 0); as VOC's 0 x 0 or
    # missing <size>, the image file tells the size, with a warning; without an image to measure, an error
    ann = tmp_path / "Annotation"
    ann.mkdir()
    text = pennfudan_txt("FudanPed00001.png", 559, 536, [(160, 182, 302, 431), (400, 171, 600, 486)])
    old = "Image size (X x Y x C) : 559 x 536 x 3"
    text = text.replace(old + "\n", "") if size_line is None else text.replace(old, size_line)
    (ann / "FudanPed00001.txt").write_text(text)
    with pytest.raises(DatasetError, match=r"FudanPed00001\.txt: .*and no image file to measure"):
        read_pennfudan(tmp_path)
    write_image(tmp_path / "PNGImages" / "FudanPed00001.png", 559, 536)
    ds = read_pennfudan(tmp_path)
    (im,) = ds.images
    assert (im.width, im.height, len(im.boxes)) == (559, 536, 2)
    said = "no 'Image size (X x Y x C)' line" if size_line is None else "'Image size (X x Y x C)' is 0 x 0"
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("warning", f"{said}: the size of FudanPed00001.png (559 x 536) is used"),
        # the box is checked against the measured size (it was not against 0 x 0)
        ("warning", "object 2 'PASpersonWalking' box (400, 171) - (600, 486) extends outside the 559x536 image")]


@pytest.mark.parametrize("size", ["-5 x 536", "abc x 536"])
def test_pennfudan_unreadable_size_line_is_not_called_missing(tmp_path, size):
    # user trial 25: a size line that is there but cannot be read was reported as "no 'Image size' line"
    ann = tmp_path / "Annotation"
    ann.mkdir()
    text = pennfudan_txt("FudanPed00001.png", 559, 536, [(160, 182, 302, 431)])
    line = f"Image size (X x Y x C) : {size} x 3"
    (ann / "FudanPed00001.txt").write_text(text.replace("Image size (X x Y x C) : 559 x 536 x 3", line))
    write_image(tmp_path / "PNGImages" / "FudanPed00001.png", 559, 536)
    ds = read_pennfudan(tmp_path)
    assert (ds.images[0].width, ds.images[0].height) == (559, 536)
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("warning", f"{line!r} is not a size 'W x H': the size of FudanPed00001.png (559 x 536) is used")]


def test_pennfudan_text_without_any_of_its_lines_is_refused(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("# Compatible with PASCAL Annotation Version 1.00\nhello\n")
    with pytest.raises(DatasetError, match=r"notes\.txt: no 'Image filename', 'Image size .*not a Penn-Fudan"):
        read_pennfudan(p)


def test_coco_file_name_or_category_name_not_a_string_is_an_error(tmp_path):
    # user trial 24: a file_name 5 and a category name null were read as the strings "5" and "None"
    path = write_coco(tmp_path / "c.json",
                      [{"id": 1, "file_name": 5, "width": 10, "height": 10},
                       {"id": 2, "file_name": "a.jpg", "width": 10, "height": 10}],
                      [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 3]},
                       {"id": 2, "image_id": 1, "category_id": 1, "bbox": [2, 2, 3, 3]},
                       {"id": 3, "image_id": 2, "category_id": 2, "bbox": [1, 1, 3, 3]},
                       {"id": 4, "image_id": 2, "category_id": 1, "bbox": [1, 1, 3, 3]}],
                      [{"id": 1, "name": "person"}, {"id": 2, "name": None}])
    ds = read_coco(path, strict=False)
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("error", "categories[1] (id 2).name must be a non-empty string, got None"),
        ("error", "images[0] (id 1).file_name must be a non-empty string, got 5"),
        ("error", "2 annotations of image_id 1 not read: images[0] is malformed (above)"),
        ("error", "1 annotation of category_id 2 not read: categories[1] is malformed (above)")]
    assert [im.file_name for im in ds.images] == ["a.jpg"] and [c.name for c in ds.classes] == ["person"]
    with pytest.raises(DatasetError, match=r"c\.json: categories\[1\] \(id 2\)\.name must be"):
        read_coco(path)


def test_coco_image_without_file_name_counts_its_boxes_once_and_string_ids_are_quoted(tmp_path):
    # user trial 25: an image lacking file_name gave one "refers to unknown image_id 1" per box (its id is known),
    # and a category id '1' (a string) against category_id 1 read "1 is not among ... (ids 1)"
    path = write_coco(tmp_path / "c.json",
                      [{"id": 1, "width": 10, "height": 10},
                       {"id": 2, "file_name": "a.jpg", "width": 10, "height": 10}],
                      [{"id": 1, "image_id": 1, "category_id": "1", "bbox": [1, 1, 3, 3]},
                       {"id": 2, "image_id": 1, "category_id": "1", "bbox": [2, 2, 3, 3]},
                       {"id": 3, "image_id": 2, "category_id": 1, "bbox": [1, 1, 3, 3]}],
                      [{"id": "1", "name": "person"}])
    ds = read_coco(path, strict=False)
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("error", "images[0] lacks 'file_name'"),
        ("error", "annotations[2] (id 3): category_id 1 is not among the file's categories (ids '1')"),
        ("error", "2 annotations of image_id 1 not read: images[0] is malformed (above)")]
    # more than ten categories: the first ten, then an ellipsis
    path = write_coco(tmp_path / "d.json", [{"id": 2, "file_name": "a.jpg", "width": 10, "height": 10}],
                      [{"id": 3, "image_id": 2, "category_id": 99, "bbox": [1, 1, 3, 3]}],
                      [{"id": k, "name": f"class {k}"} for k in range(12)])
    (problem,) = read_coco(path, strict=False).problems
    assert problem.message.endswith("category_id 99 is not among the file's categories (ids 0, 1, 2, 3, 4, 5, 6, 7, "
                                    "8, 9, …)"), problem.message


def test_coco_categories_of_one_name_are_told_apart(tmp_path):
    # user trial: two 'person' categories (ids 1 and 124) were two classes, counted as one name by inspect
    path = coco_file(tmp_path)
    data = json.loads(path.read_text())
    data["categories"].append({"id": 124, "name": "person"})
    data["annotations"][2]["category_id"] = 124
    path.write_text(json.dumps(data))
    ds = read_coco(path)
    assert [p.message for p in ds.problems] == [
        "categories[3] ('person', id 124) is the class of categories[0] ('person', id 1): kept as a class of its own, "
        "its objects scored apart from those of the other"]
    assert ds.class_counts() == {"giraffe": 1, "person (id 1)": 1, "person (id 124)": 1}


def test_coco_category_without_name_is_one_problem_not_one_per_box(tmp_path):
    """Issue-list item: a category lacking 'name' gave its error, then "category_id 1 is not among the file's
    categories" once per box. Now one line says how many boxes it takes with it; an empty file says it is empty."""
    path = coco_file(tmp_path, [{"id": k, "image_id": 7, "category_id": 1, "bbox": [1, 1, 5, 5]} for k in range(5)])
    data = json.loads(path.read_text())
    data["categories"][0] = {"id": 1}
    path.write_text(json.dumps(data))
    ds = read_coco(path, strict=False)
    assert [p.message for p in ds.problems] == [
        "categories[0] lacks 'name'", "5 annotations of category_id 1 not read: categories[0] is malformed (above)"]
    with pytest.raises(DatasetError, match=r"instances\.json: categories\[0\] lacks 'name'"):
        read_coco(path)
    path.write_text("\n \n")
    with pytest.raises(DatasetError, match=r"instances\.json: the file is empty: not a COCO instances file"):
        read_coco(path)


@pytest.mark.parametrize("fmt,what", [("voc", "VOC"), ("pennfudan", "Penn-Fudan"), ("ilsvrc", "ILSVRC")])
def test_folder_without_annotation_files_is_a_problem(tmp_path, fmt, what):
    """User trial: `detect inspect FOLDER --format voc --strict` on a folder of images only said 0 problems."""
    write_image(tmp_path / "a.jpg", 8, 8)
    ds = read_dataset(tmp_path, fmt, strict=False)
    assert [p.kind for p in ds.problems] == ["missing_annotation"]
    assert f"no {what} annotation files" in ds.problems[0].message
    with pytest.raises(DatasetError, match=f"no {what} annotation files"):
        read_dataset(tmp_path, fmt)


def test_voc_size_missing_or_zero_is_measured_and_namespaces_are_read(tmp_path):
    """User trial: a VOC file without <size> was dropped (its image was there to measure), one with 0 x 0 was taken
    silently, and one with a default namespace was reported as "missing <size>"."""
    write_image(tmp_path / "a.jpg", 64, 48)
    write_image(tmp_path / "b.jpg", 40, 30)
    write_image(tmp_path / "c.jpg", 50, 20)
    obj = "<object><name>dog</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>15</ymax></bndbox></object>"
    (tmp_path / "a.xml").write_text(f"<annotation><filename>a.jpg</filename>{obj}</annotation>")
    (tmp_path / "b.xml").write_text(f"<annotation><filename>b.jpg</filename><size><width>0</width><height>0</height>"
                                    f"</size>{obj}</annotation>")
    (tmp_path / "c.xml").write_text(f'<annotation xmlns="http://example.com/voc"><filename>c.jpg</filename><size>'
                                    f"<width>50</width><height>20</height></size>{obj}</annotation>")
    ds = read_dataset(tmp_path, "voc", strict=False)
    assert [(im.file_name, im.width, im.height, len(im.boxes)) for im in ds.images] == [
        ("a.jpg", 64, 48, 1), ("b.jpg", 40, 30, 1), ("c.jpg", 50, 20, 1)]
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("warning", "missing <size>: the size of a.jpg (64 x 48) is used"),
        ("warning", "<size> 0 x 0: the size of b.jpg (40 x 30) is used")]
    (tmp_path / "a.jpg").unlink()
    with pytest.raises(DatasetError, match=r"a\.xml: missing <size>, and no image file to measure"):
        read_dataset(tmp_path, "voc")
    # an empty <width> or a <height> that is no number: measured too (trial 27: "missing <width>", an error)
    d = tmp_path / "odd"
    d.mkdir()
    write_image(d / "e.jpg", 40, 30)
    write_image(d / "f.jpg", 50, 20)
    (d / "e.xml").write_text(f"<annotation><size><width></width><height>30</height></size>{obj}</annotation>")
    (d / "f.xml").write_text(f"<annotation><size><width>50</width><height>abc</height></size>{obj}</annotation>")
    ds = read_dataset(d, "voc", strict=False)
    assert [(im.file_name, im.width, im.height) for im in ds.images] == [("e.jpg", 40, 30), ("f.jpg", 50, 20)]
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("warning", "<size> (no <width>) x 30: the size of e.jpg (40 x 30) is used"),
        ("warning", "<size> 50 x abc: the size of f.jpg (50 x 20) is used")]


def test_inspect_checks_image_sizes_as_the_images_are_run(tmp_path):
    """User trial: `detect inspect` compared the annotated size with the stored one of an EXIF-rotated JPEG (455 x
    414 stored, 414 x 455 shown), warning on the size `detect run` writes and `detect eval` requires."""
    from detector.data.summary import check_image_files

    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (120, 90)).save(tmp_path / "r.jpg", exif=exif)
    for (w, h), mismatch in (((90, 120), False), ((120, 90), True)):
        path = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "r.jpg", "width": w, "height": h}], [],
                          COCO_CATS)
        problems = [p for probs in check_image_files(read_coco(path)) for p in probs]
        assert [p.kind for p in problems] == (["size_mismatch"] if mismatch else []), problems
        if mismatch:
            assert problems[0].message == "annotation says 120x90 but r.jpg is 90x120"


def test_coco_image_without_size_is_measured(tmp_path):
    """User trial: COCO ground truth whose images lack width/height (pycocotools needs none for boxes) was refused
    by `detect eval`; the image file's size is used, with a warning, as for VOC."""
    write_image(tmp_path / "a.jpg", 64, 48)
    path = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "gone.jpg"}],
                      [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 20]}], COCO_CATS)
    ds = read_coco(path, strict=False)
    assert [(im.width, im.height) for im in ds.images] == [(64, 48), (0, 0)]
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("warning", "images[0] (a.jpg) lacks a numeric width/height: the image file's (64 x 48) is used"),
        ("error", "images[1] (gone.jpg) lacks a numeric width/height, and no image file to measure")]


def test_unusable_image_sizes_are_problems_not_tracebacks(tmp_path):
    """User trial 24: a COCO width of Infinity (json reads 1e400 so) or a VOC <width>inf</width> ended in an
    OverflowError traceback, NaN in "cannot convert float NaN to integer" naming no field, and a COCO width of true,
    0 or -5 was taken silently; each is now measured from the image file, or a problem naming the file and field."""
    write_image(tmp_path / "a.jpg", 64, 48)
    images = [{"id": k, "file_name": name, "width": w, "height": 48} for k, (name, w) in enumerate(
        [("a.jpg", float("inf")), ("b.jpg", float("nan")), ("c.jpg", True), ("d.jpg", 0), ("e.jpg", -5)], 1)]
    path = write_coco(tmp_path / "gt.json", images, [], COCO_CATS)
    ds = read_coco(path, strict=False)
    assert [(im.width, im.height) for im in ds.images] == [(64, 48)] + [(0, 0)] * 4
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("warning", "images[0] (a.jpg) has no usable width/height (inf x 48: not positive finite numbers): the image "
                    "file's (64 x 48) is used"),
        ("error", "images[1] (b.jpg) has no usable width/height (nan x 48: not positive finite numbers), and no "
                  "image file to measure"),
        ("error", "images[2] (c.jpg) lacks a numeric width/height (True x 48), and no image file to measure"),
        ("error", "images[3] (d.jpg) has no usable width/height (0 x 48: not positive finite numbers), and no image "
                  "file to measure"),
        ("error", "images[4] (e.jpg) has no usable width/height (-5 x 48: not positive finite numbers), and no image "
                  "file to measure")]
    voc = tmp_path / "voc"
    voc.mkdir()
    obj = "<object><name>dog</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>15</ymax></bndbox></object>"
    for name, width in (("x", "inf"), ("y", "NaN")):
        (voc / f"{name}.xml").write_text(f"<annotation><size><width>{width}</width><height>30</height></size>{obj}"
                                         "</annotation>")
    ds = read_dataset(voc, "voc", strict=False)
    assert len(ds.images) == 0
    assert [(p.severity, p.message) for p in ds.problems if p.severity == "error"] == [
        ("error", "<size> <width> is not a finite number: 'inf'"), ("error", "<size> <width> is not a finite number: 'NaN'")]
    with pytest.raises(DatasetError, match=r"x\.xml: <size> <width> is not a finite number: 'inf'"):
        read_dataset(voc, "voc")


def test_coco_duplicate_annotation_id_is_an_error(tmp_path):
    """User trial: two annotations with one id passed; pycocotools indexes them by id, so --metric coco scored the
    first box twice and the second never, while the ILSVRC metric kept both."""
    path = coco_file(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"][1]["id"] = data["annotations"][0]["id"]
    path.write_text(json.dumps(data))
    first = data["annotations"][0]["id"]
    with pytest.raises(DatasetError, match=rf"annotations\[1\] \(id {first}\): duplicate annotation id {first} "
                                          r"\(also annotations\[0\]\)"):
        read_coco(path)


def test_an_xml_file_that_is_not_an_annotation_is_an_error(tmp_path):
    """User trial: an HTML page saved as x.xml among VOC annotations was read as an image without objects."""
    d = tmp_path / "flat"
    d.mkdir()
    (d / "a.xml").write_text(voc_xml("a.jpg", 100, 80, [("cat", 1, 1, 10, 20, 0)]))
    (d / "x.xml").write_text("<html><body>hi</body></html>")
    with pytest.raises(DatasetError, match=r"x\.xml: not a VOC/ILSVRC annotation: its root element is <html>, not "
                                          r"<annotation>"):
        read_voc(d)
    assert len(read_voc(d, strict=False).images) == 1


def test_a_model_file_is_named_as_such_not_an_unknown_format(tmp_path):
    """`detect inspect model.pt` said "cannot tell the annotation format; pass --format" (trial 23)."""
    import torch
    from click.testing import CliRunner

    from cli.main import cli

    model = tmp_path / "model.pt"
    torch.save({"format": "detect-classifier/1"}, model)
    r = CliRunner().invoke(cli, ["inspect", str(model)])  # inspected as a model now (detect inspect MODEL)
    assert r.exit_code == 1 and "model.pt: not a usable model file" in r.output and "pass --format" not in r.output
    r = CliRunner().invoke(cli, ["inspect", str(model), "--format", "coco"])  # read as annotations when told so:
    assert "a PyTorch file (a model or checkpoint?) or another zip archive, not a COCO" in r.output  # a problem


def test_an_image_read_as_xml_is_named_as_such(tmp_path):
    # trial 34: --format voc on a PNG (or a PNG named .xml) was "p.png:1: not valid XML"
    Image.new("RGB", (4, 4)).save(tmp_path / "p.png")
    with pytest.raises(DatasetError, match=r"p\.png: a PNG image, not an XML annotation"):
        read_dataset(tmp_path / "p.png", "voc")


def test_an_ensemble_folder_given_as_annotations_is_named_as_such(tmp_path):
    # trial 32: `detect inspect ENSEMBLE_DIR` read its ensemble.json as COCO and exited 0
    (tmp_path / "ensemble.json").write_text('{"members": ["member0.pt"]}')
    (tmp_path / "member0.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(DatasetError, match=r"a folder of model files \(the ensemble `detect train ensemble` writes\), "
                                          r"not annotations"):
        read_dataset(tmp_path)


def test_an_unfinished_ensemble_folder_given_as_annotations_is_named_as_such(tmp_path):
    """A stopped `detect train ensemble` run's folder (member files, no ensemble.json yet) was "no COCO JSON, ILSVRC/VOC
    XML or Penn-Fudan annotation found here; pass --format" (`detect eval --gt DIR`): now a model folder, not
    annotations, and how to finish it."""
    from click.testing import CliRunner

    from cli.main import cli

    run = tmp_path / "ens"
    run.mkdir()
    (run / "member0.state.ckpt").write_bytes(b"PK\x03\x04")  # stopped in its first epoch
    (run / "member0.log.jsonl").write_text('{"epoch": 1}\n')
    said = r"a folder of model files of an unfinished `detect train ensemble` run \(member0\.state\.ckpt; no ensemble"
    with pytest.raises(DatasetError, match=said):
        read_dataset(run)
    for name in ("member0.pt", "member0.last.ckpt", "member1.pt", "member1.state.ckpt"):
        (run / name).write_bytes(b"PK\x03\x04")
    pred = tmp_path / "p.json"
    pred.write_text("[]")
    r = CliRunner().invoke(cli, ["eval", "--gt", str(run), "--pred", str(pred)])
    assert r.exit_code == 1 and "pass --format" not in r.output, r.output
    assert (f"{run}: a folder of model files of an unfinished `detect train ensemble` run (member0.pt, "
            "member0.state.ckpt, member1.pt, …; no ensemble.json yet), not annotations: give an annotation set "
            "(COCO JSON, ILSVRC/VOC XML, Penn-Fudan, YOLO, LabelMe JSON); `detect train ensemble --resume` finishes "
            "the run"
            ) in r.output, r.output
    (run / "ann.json").write_text('{"images": [], "annotations": [], "categories": []}')  # annotations beside: read
    assert detect_format(run) == "coco"


def test_images_given_as_annotations_are_named_as_such(tmp_path):
    # trial 32: a list of image paths and VOC's JPEGImages/ were told to "pass --format", which no format reads
    (tmp_path / "imgs.txt").write_text("a.jpg\nsub/b.PNG 2\n\n")
    with pytest.raises(DatasetError, match=r"imgs\.txt: a list of image files, not annotations: give those images' "
                                          r"annotations \(COCO JSON, ILSVRC/VOC XML, Penn-Fudan, YOLO, LabelMe JSON\)"):
        read_dataset(tmp_path / "imgs.txt")
    (tmp_path / "JPEGImages").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "JPEGImages" / "x.jpg")
    with pytest.raises(DatasetError, match=r"JPEGImages: a folder of images without annotations .*VOC: the folder "
                                          r"that holds Annotations/ and JPEGImages/"):
        read_dataset(tmp_path / "JPEGImages")


@pytest.mark.parametrize("name,head,kind", [
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "a JPEG image"),
    ("meta_det.mat", b"MATLAB 5.0 MAT-file, Platform: GLNXA64", "a MATLAB .mat file"),  # the devkit's class table
    ("x.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "a WebP image"),
])
def test_a_binary_file_given_as_annotations_is_named_by_its_kind(tmp_path, name, head, kind):
    # the next round's item: `detect eval --gt photo.jpg` answered "cannot tell the annotation format; pass --format"
    (tmp_path / name).write_bytes(head + bytes(64))
    with pytest.raises(DatasetError, match=rf"{name}: {kind}, not annotations"):
        read_dataset(tmp_path / name)


def test_a_binary_file_without_a_known_signature_given_as_annotations_is_called_binary(tmp_path):
    """Trial 34: a pickle, a legacy (non-zip) PyTorch file or a tar archive given as --gt was "cannot tell the
    annotation format; pass --format", which no format would read: it is a binary file. Text of no known format,
    UTF-16 without a byte-order mark included, is still told to pass --format."""
    import pickle

    (tmp_path / "a.pkl").write_bytes(pickle.dumps({"boxes": [1, 2, 3]}, protocol=2) + bytes(8))
    with pytest.raises(DatasetError, match=r"a\.pkl: a binary file \(a NUL byte at byte \d+, which no text holds\), "
                                          r"not annotations: give an annotation set"):
        read_dataset(tmp_path / "a.pkl")
    for name, data in (("notes.dat", "just some notes\n".encode()), ("notes16.dat", "some notes\n".encode("utf-16-le"))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DatasetError, match=rf"{name}: cannot tell the annotation format; pass --format"):
            read_dataset(tmp_path / name)


def test_coco_category_id_true_is_no_category(tmp_path):
    # left over from trial 25: a category id `true` was taken for 1 (Python's True == 1): its boxes joined category 1
    path = write_coco(tmp_path / "c.json", [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                      [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 3]},
                       {"id": 2, "image_id": 1, "category_id": True, "bbox": [2, 2, 3, 3]}],
                      [{"id": 1, "name": "person"}, {"id": True, "name": "dog"}])
    ds = read_coco(path, strict=False)
    assert [(p.severity, p.message) for p in ds.problems] == [
        ("error", "categories[1].id must be an integer, got true"),
        ("error", "annotations[1] (id 2): category_id true is not among the file's categories (ids 1)")]
    assert [c.name for c in ds.classes] == ["person"] and len(ds.images[0]) == 1


def test_voc_two_annotations_of_one_image_are_an_error(tmp_path):
    """Trial 52: A_copy.xml (no image of its name) whose <filename> names 2007_000250.jpg took that image beside
    2007_000250.xml: `detect inspect` said nothing, `detect eval` said to name the image by a longer path."""
    ann, jpg = tmp_path / "Annotations", tmp_path / "JPEGImages"
    ann.mkdir()
    jpg.mkdir()
    Image.new("RGB", (100, 80)).save(jpg / "2007_000250.jpg")
    (ann / "2007_000250.xml").write_text(voc_xml("2007_000250.jpg", 100, 80, [("person", 1, 1, 10, 20, 0),
                                                                              ("dog", 30, 1, 50, 40, 0)]))
    (ann / "A_copy.xml").write_text(voc_xml("2007_000250.jpg", 100, 80, [("person", 5, 5, 9, 9, 0)]))
    ds = read_dataset(tmp_path, "voc", strict=False)
    assert [(im.file_name, len(im.boxes)) for im in ds.images] == [("2007_000250.jpg", 2)]
    errors = [(p.file.rsplit("/", 1)[-1], p.message) for p in ds.problems if p.severity == "error"]
    assert errors == [("A_copy.xml", "its image '2007_000250.jpg' is also that of 2007_000250.xml: two annotations "
                                     "of one image")]
    with pytest.raises(DatasetError, match=r"A_copy\.xml: its image '2007_000250\.jpg' is also that of"):
        read_dataset(tmp_path, "voc")


def test_a_copy_naming_an_image_converted_to_another_format_is_still_caught(tmp_path):
    """Trial 53: images saved as .jpg while the annotations say .png; a copy whose 'Image filename' line /
    <filename> names another file's image found no image by that exact name, took its own (absent) name and became
    an image of its own: mAP 0.80 where the real boxes score 1.0, with warnings only."""
    (tmp_path / "pf").mkdir()
    png = _pennfudan_root(tmp_path / "pf", "FudanPed00002.jpg",
                          {"FudanPed00002.txt": pennfudan_txt("FudanPed00002.png", 100, 80, [(1, 1, 10, 20)]),
                           "zcopy.txt": pennfudan_txt("FudanPed00002.png", 100, 80, [(5, 5, 9, 9)])})
    ds = read_pennfudan(tmp_path / "pf", strict=False)
    assert [(im.file_name, im.path) for im in ds.images] == [("FudanPed00002.jpg", png / "FudanPed00002.jpg")]
    assert [p.file.rsplit("/", 1)[-1] for p in ds.problems if p.severity == "error"] == ["zcopy.txt"]
    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    Image.new("RGB", (100, 80)).save(voc / "JPEGImages" / "2007_000032.png")
    (voc / "Annotations" / "2007_000032.xml").write_text(voc_xml("2007_000032.jpg", 100, 80,
                                                                 [("person", 1, 1, 10, 20, 0)]))
    (voc / "Annotations" / "zcopy.xml").write_text(voc_xml("2007_000032.jpg", 100, 80, [("person", 5, 5, 9, 9, 0)]))
    ds = read_dataset(voc, "voc", strict=False)
    assert [im.file_name for im in ds.images] == ["2007_000032.png"]
    assert [p.file.rsplit("/", 1)[-1] for p in ds.problems if p.severity == "error"] == ["zcopy.xml"]


def test_converted_ground_truth_numbers_classes_as_boxes_json_does(tmp_path):
    """Classes without an ILSVRC det_id get the id a model's outputs of the same classes carry (1000 + position,
    ``boxes_json.category_id``), not a second numbering (201, 202, …: a `--format coco` result of a model trained on
    such classes named categories the converted ground truth did not have)."""
    from detector.data.boxes_json import categories

    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "x.xml").write_text(voc_xml("x.jpg", 100, 80, [("gnome", 1, 1, 10, 20, 0),
                                                                           ("person", 5, 6, 50, 60, 0),
                                                                           ("widget", 2, 2, 30, 30, 0)]))
    ds = read_dataset(root)
    coco = dataset_to_coco(ds)
    assert [c["id"] for c in coco["categories"]] == [c["id"] for c in categories(ds.classes)]
    by_name = {c["name"]: c["id"] for c in coco["categories"]}
    names = [c.name for c in ds.classes]
    assert {n: by_name[n] for n in ("person", "gnome", "widget")} == {"person": 124, "gnome": 1000 + names.index("gnome"), "widget": 1000 + names.index("widget")}
    assert sorted(a["category_id"] for a in coco["annotations"]) == [124, by_name["gnome"], by_name["widget"]]


def test_a_model_folder_given_as_annotations_is_named_whatever_the_case_of_its_suffix(tmp_path):
    """Trial 63: `detect eval --gt detector/models/default` (finished members, no ensemble.json) was "an unfinished
    `detect train ensemble` run" that --resume would finish; member0.PT beside ensemble.json read as COCO
    ("ensemble.json: not a COCO instances file"), and member0.PT alone was "pass --format"."""
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    for name in ("member0.pt", "member1.pt", "README.md"):
        (bundled / name).write_bytes(b"PK\x03\x04")
    with pytest.raises(DatasetError, match=r"a folder of model files \(member0\.pt, member1\.pt\), not annotations: "
                                          r"give an annotation set .*; the folder is `detect run --model`'s$"):
        read_dataset(bundled)
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / "member0.PT").write_bytes(b"PK\x03\x04")
    with pytest.raises(DatasetError, match=r"a folder of model files \(member0\.PT\), not annotations"):
        read_dataset(copied)
    (copied / "ensemble.json").write_text('{"members": [{"member": 0}]}')
    with pytest.raises(DatasetError, match=r"a folder of model files \(the ensemble `detect train ensemble` writes\)"):
        read_dataset(copied)
