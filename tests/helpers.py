"""Small writers of annotation files for tests, a comparison of detections, and ``detect eval`` to JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, width: int, height: int, color=(120, 80, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), color).save(path)
    return path


def ilsvrc_xml(name: str, width: int, height: int, objects, *, folder="ILSVRC2013_val") -> str:
    """objects: [(wnid, xmin, ymin, xmax, ymax)] in the file's own (0-based inclusive) numbers."""
    objs = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{x1}</xmin><xmax>{x2}</xmax><ymin>{y1}</ymin><ymax>{y2}</ymax>"
        "</bndbox></object>"
        for n, x1, y1, x2, y2 in objects
    )
    return (f"<annotation><folder>{folder}</folder><filename>{name}</filename><source><database>ILSVRC_2013"
            f"</database></source><size><width>{width}</width><height>{height}</height></size>{objs}</annotation>")


def voc_xml(filename: str, width: int, height: int, objects) -> str:
    """objects: [(name, xmin, ymin, xmax, ymax, difficult)] in the file's own (1-based inclusive) numbers."""
    objs = "".join(
        f"<object><name>{n}</name><difficult>{d}</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for n, x1, y1, x2, y2, d in objects
    )
    return (f"<annotation><folder>VOC2012</folder><filename>{filename}</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{objs}</annotation>")


def pennfudan_txt(filename: str, width: int, height: int, boxes, label="PASpersonWalking") -> str:
    """boxes: [(xmin, ymin, xmax, ymax)] 1-based inclusive."""
    lines = [
        "# Compatible with PASCAL Annotation Version 1.00",
        f'Image filename : "PennFudanPed/PNGImages/{filename}"',
        f"Image size (X x Y x C) : {width} x {height} x 3",
        'Database : "The Penn-Fudan-Pedestrian Database"',
        f"Objects with ground truth : {len(boxes)} {{ }}",
    ]
    for k, (x1, y1, x2, y2) in enumerate(boxes, start=1):
        lines += [
            f'# Details for pedestrian {k} ("{label}")',
            f'Original label for object {k} "{label}" : "PennFudanPed"',
            f'Bounding box for object {k} "{label}" (Xmin, Ymin) - (Xmax, Ymax) : ({x1}, {y1}) - ({x2}, {y2})',
            "",
        ]
    return "\n".join(lines) + "\n"


def write_coco(path: Path, images, annotations, categories) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def write_images_gt(path: Path, images, categories=("person", "dog")) -> Path:
    """COCO ground truth for synthetic training images (``path``, ``gt_boxes`` xyxy, ``gt_labels`` 1..C; 80 x 64)."""
    return write_coco(path,
                      [{"id": i, "file_name": im.path.name, "width": 80, "height": 64} for i, im in enumerate(images)],
                      [{"id": 10 * i + k, "image_id": i, "category_id": int(lbl),
                        "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
                       for i, im in enumerate(images) for k, (b, lbl) in enumerate(zip(im.gt_boxes, im.gt_labels))],
                      [{"id": k + 1, "name": name} for k, name in enumerate(categories)])


def write_png16(path: Path, samples, *, exif: bytes | None = None) -> Path:
    """A 16-bit PNG written by the specification (PNG 11.2: IHDR, optional eXIf, one zlib IDAT of filter-0 rows,
    IEND), not by the decoders under test. ``samples``: uint16 H x W (grey), H x W x 2 (grey + alpha), x 3 (RGB)
    or x 4 (RGBA). ``exif``: TIFF-form EXIF bytes (a leading ``Exif\\0\\0``, as Pillow writes it, is dropped)."""
    import struct
    import zlib

    import numpy as np

    a = np.asarray(samples, dtype=np.uint16)
    h, w = a.shape[:2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[1 if a.ndim == 2 else a.shape[2]]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
    if exif is not None:
        png += chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def assert_same_detections(a, b, *, box_atol: float, score_atol: float) -> None:
    """Two non-empty :class:`detector.pipeline.Detections` agree: the same labels in the same order, boxes within
    ``box_atol`` pixels, scores within ``score_atol``."""
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=box_atol)
    np.testing.assert_allclose(a.scores, b.scores, atol=score_atol)


def eval_json(gt, pred, metric, tmp_path, *extra):
    """``detect eval --gt GT --pred PRED --metric METRIC --json …`` (exit 0 asserted): ``(mAP, {class name: AP},
    the click result)``."""
    from click.testing import CliRunner

    from cli.main import cli

    out = tmp_path / f"m{len(list(tmp_path.glob('m*.json')))}.json"
    r = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(pred), "--metric", metric, "--json", str(out),
                                 *extra])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    return d["mAP"], {c["name"]: c["AP"] for c in d["per_class"]}, r
