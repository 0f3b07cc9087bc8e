"""scripts/gpu_kit.py: what travels to a lent GPU — shrunk images with their boxes scaled, and their selective-search
boxes under the proposal-cache keys of the shrunk files, found there without OpenCV's contrib modules."""

import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image

from detector.data import read_dataset
from proposals.cache import ProposalCache
from proposals.proposers import ProposalConfig

ROOT = Path(__file__).resolve().parents[1]


def _kit_module():
    spec = importlib.util.spec_from_file_location("gpu_kit", ROOT / "scripts" / "gpu_kit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_kit_scales_boxes_and_carries_proposals(tmp_path):
    data, lists, split = tmp_path / "data", tmp_path / "lists", tmp_path / "split"
    for d in (lists, split):
        d.mkdir()
    rng = np.random.default_rng(0)
    photo = data / "nette" / "n01440764" / "p.JPEG"
    photo.parent.mkdir(parents=True)
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), np.uint8)).save(photo)
    for name in ("photos_train.txt", "photos_val_inet.txt", "photos_val_nette.txt"):
        (lists / name).write_text(f"{photo}\n")
    image = data / "det" / "x.png"
    image.parent.mkdir()
    Image.fromarray(rng.integers(0, 255, (100, 200, 3), np.uint8)).save(image)
    tall = data / "det" / "tall.png"  # 20 x 101 → 20 x 100, each side rounded on its own (101 × 20/20 is not 100)
    Image.fromarray(rng.integers(0, 255, (101, 20, 3), np.uint8)).save(tall)
    (split / "pennfudan.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": str(image), "width": 200, "height": 100},
                   {"id": 2, "file_name": str(tall), "width": 20, "height": 101}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 124, "bbox": [10.5, 20, 50, 60], "area": 3000,
                         "iscrowd": 0}],
        "categories": [{"id": 124, "name": "person", "wnid": "n00007846"}]}))
    search = ProposalConfig.selective_search
    ProposalCache(tmp_path / "cache").put(image, search, np.array([[0, 0, 200, 100], [10, 20, 61, 81]], np.float32))

    kit = tmp_path / "kit"
    _kit_module().main(["--out", str(kit), "--data", str(data), "--distill", str(lists), "--split", str(split),
                        "--cache", str(tmp_path / "cache"), "--det-side", "100", "--photo-side", "50",
                        "--student", "", "--no-teacher"])
    assert Image.open(kit / "photos" / "train" / "nette" / "n01440764" / "p.webp").size == (75, 50)  # short side 50
    ds = read_dataset(kit / "det" / "pennfudan.json")
    im, tall_im = ds.images
    for one in ds.images:  # trial: 289 x 384 files annotated 289 x 385 were left out of training on the GPU
        assert Image.open(one.path).size == (one.width, one.height)
    assert (im.width, im.height) == (100, 50) and im.path == kit / "det" / "pennfudan" / "x.webp"
    np.testing.assert_allclose(im.boxes, [[5.25, 10, 30.25, 40]])  # [10.5, 20, 50, 60] xywh, halved, as xyxy
    assert ds.classes[im.labels[0]].wnid == "n00007846"
    manifest = json.loads((kit / "manifest.json").read_text())
    assert manifest["det"] == {"pennfudan": {"images": 2, "boxes": 1}} and manifest["photos"]["train"] == 1

    there = tmp_path / "there_cache"  # the lent machine: the kit's proposals land under the shrunk file's key
    _kit_module().main(["--unpack", str(kit), "--cache", str(there)])
    np.testing.assert_array_equal(ProposalCache(there).get(im.path, search), [[0, 0, 100, 50], [5, 10, 30, 40]])
