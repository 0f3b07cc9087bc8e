"""Selective search proposals, the proposal cache and recall measures (proposals/)."""

from __future__ import annotations

import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from proposals.cache import ProposalCache, config_digest, default_cache_dir
from proposals.recall import best_overlaps, mean_best_overlap, recall_at
from proposals.selective_search import (
    ProposalResult,
    SelectiveSearchConfig,
    _ordered_map,
    selective_search,
    selective_search_many,
)

# Most tests run on the small image as it is (resize_width=0): ~0.2 s a run instead of ~1 s at width 500.
RAW = SelectiveSearchConfig(resize_width=0)
RECTS = [(20, 15, 80, 70, (220, 30, 30)), (110, 30, 180, 90, (30, 200, 40)), (40, 95, 150, 135, (30, 40, 210))]


def synthetic_image(width=200, height=150, seed=0, rects=RECTS):
    """RGB uint8: a smooth random colour field plus pixel noise, with solid rectangles on top.
    Returns (image, ground-truth xyxy boxes of the rectangles)."""
    rng = np.random.default_rng(seed)
    field = rng.normal(128, 25, (height // 10 + 1, width // 10 + 1, 3))
    img = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 8, (height, width, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for x1, y1, x2, y2, colour in rects:
        img[y1:y2, x1:x2] = colour
    return img, np.array([r[:4] for r in rects], dtype=np.float32)


def cluttered_image(width=200, height=150, seed=1):
    """A 'real-ish' image: many overlapping blobs of random colours and sizes over a noisy field."""
    img, _ = synthetic_image(width, height, seed, rects=[])
    rng = np.random.default_rng(seed)
    for _ in range(25):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(5, 40)), int(rng.integers(5, 30)))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return img


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
    return path


@pytest.fixture(scope="module")
def image_and_gt():
    return synthetic_image()


@pytest.fixture(scope="module")
def raw_boxes(image_and_gt):
    return selective_search(image_and_gt[0], RAW)


# ------------------------------------------------------------------------------------------------ config
def test_config_defaults_and_k_values():
    cfg = SelectiveSearchConfig()
    assert (cfg.mode, cfg.scale, cfg.resize_width, cfg.min_size, cfg.max_boxes) == ("fast", 1.0, 500, 20, 0)
    assert (cfg.base_k, cfg.inc_k, cfg.sigma, cfg.seed) == (150, 150, 0.8, 0)
    assert cfg.ks == (150, 300, 450)  # OpenCV fast: k = base_k + {0, 1, 2} * inc_k
    assert replace(cfg, scale=2.0).ks == (300, 600, 900)
    assert replace(cfg, mode="quality").ks == (150, 300, 450, 600, 750)
    assert replace(cfg, mode="single", scale=2.0).ks == (300,)


@pytest.mark.parametrize("bad", [dict(mode="slow"), dict(scale=0), dict(scale=float("nan")), dict(min_size=-1),
                                 dict(resize_width=1.5), dict(base_k=0), dict(sigma=-1.0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SelectiveSearchConfig(**bad)


# ------------------------------------------------------------------------------------------------ one image
def test_finds_every_rectangle(image_and_gt, raw_boxes):
    img, gt = image_and_gt
    assert raw_boxes.dtype == np.float32 and raw_boxes.ndim == 2 and raw_boxes.shape[1] == 4
    assert recall_at([gt], [raw_boxes], (0.5, 0.9), (None,)) == {(0.5, None): 1.0, (0.9, None): 1.0}


def test_boxes_are_valid_unique_and_inside(image_and_gt, raw_boxes):
    h, w = image_and_gt[0].shape[:2]
    b = raw_boxes
    assert np.all(b == np.round(b))
    assert np.all(b[:, 0] >= 0) and np.all(b[:, 1] >= 0) and np.all(b[:, 2] <= w) and np.all(b[:, 3] <= h)
    assert np.all(b[:, 2] - b[:, 0] >= 20) and np.all(b[:, 3] - b[:, 1] >= 20)
    assert len(np.unique(b, axis=0)) == len(b)
    assert [0, 0, w, h] in b.tolist()  # the root of the hierarchy: the whole image


def test_deterministic(image_and_gt, raw_boxes):
    img = image_and_gt[0]
    np.testing.assert_array_equal(selective_search(img, RAW), raw_boxes)
    # the seed fixes OpenCV's (random) ranking: another seed, same set of boxes, another order
    other = selective_search(img, replace(RAW, seed=1))  # (glibc srand(0) == srand(1): seeds are shifted)
    assert sorted(map(tuple, other.tolist())) == sorted(map(tuple, raw_boxes.tolist()))
    assert not np.array_equal(other, raw_boxes)


def test_accepts_grey_and_rejects_bad_arrays(image_and_gt):
    grey = cv2.cvtColor(image_and_gt[0], cv2.COLOR_RGB2GRAY)
    assert len(selective_search(grey, RAW)) > 0
    with pytest.raises(ValueError, match="uint8"):
        selective_search(image_and_gt[0].astype(np.float32), RAW)
    with pytest.raises(ValueError, match="shape"):
        selective_search(np.zeros((10, 10, 2), np.uint8), RAW)


def test_downscaled_run_is_in_original_coordinates(image_and_gt):
    """resize_width=100 on a 200-wide image == the search on the half-size image, boxes doubled."""
    img, gt = image_and_gt
    boxes = selective_search(img, replace(RAW, resize_width=100))
    small = cv2.resize(img, (100, 75), interpolation=cv2.INTER_AREA)
    small_boxes = selective_search(small, replace(RAW, min_size=10))  # 20 original px = 10 small px
    np.testing.assert_array_equal(boxes, small_boxes * 2)
    assert boxes[:, 2].max() == 200 and boxes[:, 3].max() == 150
    assert recall_at([gt], [boxes], (0.7,), (None,))[(0.7, None)] == 1.0


def test_upscaled_copy_gives_scaled_boxes(image_and_gt, raw_boxes):
    """The same image upscaled 2x and run at resize_width=200 gives the original boxes times 2."""
    img, gt = image_and_gt
    big = cv2.resize(img, (400, 300), interpolation=cv2.INTER_NEAREST)
    boxes = selective_search(big, replace(RAW, resize_width=200, min_size=40))
    np.testing.assert_array_equal(boxes, raw_boxes * 2)
    assert recall_at([gt * 2], [boxes], (0.9,), (None,))[(0.9, None)] == 1.0


def test_a_narrow_strip_is_not_enlarged_without_bound(monkeypatch):
    """R-CNN's width 500 would make a 25 x 4000 strip 500 x 80,000 (most of an hour, gigabytes; user trial): the
    long side is capped at MAX_SIDE_FACTOR x the width; an image of ordinary proportions is resized as before."""
    import proposals.selective_search as ss

    seen = []
    real_resize = cv2.resize
    monkeypatch.setattr(ss.cv2, "resize", lambda im, size, **kw: seen.append(size) or real_resize(im, size, **kw))
    rng = np.random.default_rng(0)
    strip = rng.integers(0, 255, (4000, 25, 3), dtype=np.uint8)
    boxes = selective_search(strip, SelectiveSearchConfig(mode="single"))
    assert seen[-1] == (12, 2000)  # 4 x 500 on the long side, proportions kept
    assert len(boxes) == 0 or (boxes[:, 2].max() <= 25 and boxes[:, 3].max() <= 4000)
    selective_search(rng.integers(0, 255, (150, 200, 3), dtype=np.uint8), SelectiveSearchConfig(mode="single"))
    assert seen[-1] == (500, 375)  # ordinary proportions: R-CNN's width


def test_min_size_and_max_boxes(image_and_gt, raw_boxes):
    img = image_and_gt[0]
    everything = selective_search(img, replace(RAW, min_size=0))
    big_only = selective_search(img, replace(RAW, min_size=40))
    assert len(big_only) < len(raw_boxes) < len(everything)
    for b in (everything, raw_boxes, big_only):
        assert np.all(b[:, 2:] - b[:, :2] >= 0)
    assert np.all(big_only[:, 2:] - big_only[:, :2] >= 40)
    # filtering keeps OpenCV's order: the filtered list is the unfiltered one with boxes left out
    wide = everything[np.all(everything[:, 2:] - everything[:, :2] >= 40, axis=1)]
    np.testing.assert_array_equal(big_only, wide)
    capped = selective_search(img, replace(RAW, max_boxes=10))
    np.testing.assert_array_equal(capped, raw_boxes[:10])


def test_scale_two_gives_fewer_boxes():
    img = cluttered_image()
    n1 = len(selective_search(img, RAW))
    n2 = len(selective_search(img, replace(RAW, scale=2.0)))
    assert n2 < 0.85 * n1, (n1, n2)


def test_single_and_quality_modes(image_and_gt):
    img, gt = image_and_gt
    small = cv2.resize(img, (100, 75), interpolation=cv2.INTER_AREA)
    single = selective_search(small, replace(RAW, mode="single", min_size=10))
    quality = selective_search(small, replace(RAW, mode="quality", min_size=10))
    fast = selective_search(small, replace(RAW, min_size=10))
    assert 0 < len(single) < len(fast) < len(quality)
    assert recall_at([gt / 2], [quality], (0.5,), (None,))[(0.5, None)] == 1.0


# ------------------------------------------------------------------------------------------------ cache
def test_cache_round_trip(tmp_path, image_and_gt):
    img = image_and_gt[0]
    path = write_rgb(tmp_path / "a.png", img)
    cache = ProposalCache(tmp_path / "cache")
    boxes = np.array([[0, 0, 10, 10], [5, 5, 30, 40]], np.float32)
    assert cache.get(path, RAW) is None
    entry = cache.put(path, RAW, boxes)
    assert entry.is_file() and entry.parent.parent == cache.root
    assert not list(entry.parent.glob("*.tmp"))
    got = cache.get(path, RAW)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, boxes)
    assert (path, RAW) in cache
    # keyed by content, not by name
    copy = shutil.copy(path, tmp_path / "renamed.png")
    np.testing.assert_array_equal(cache.get(copy, RAW), boxes)
    np.testing.assert_array_equal(cache.get(path.read_bytes(), RAW), boxes)
    # any config field change misses
    assert cache.get(path, replace(RAW, scale=2.0)) is None
    assert cache.get(path, replace(RAW, seed=3)) is None
    # new pixels miss
    changed = img.copy()
    changed[0, 0] ^= 1
    write_rgb(path, changed)
    assert cache.get(path, RAW) is None
    # empty proposal lists are entries too
    cache.put(path, RAW, np.zeros((0, 4), np.float32))
    assert cache.get(path, RAW).shape == (0, 4)


def test_cache_ignores_a_broken_entry(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"not really an image")
    cache = ProposalCache(tmp_path / "cache")
    entry = cache.put(path, RAW, np.ones((3, 4)))
    entry.write_bytes(b"garbage")
    assert cache.get(path, RAW) is None
    assert cache.clear() == 1


def test_cache_defaults_and_config_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECT_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    assert ProposalCache().root == tmp_path
    monkeypatch.delenv("DETECT_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "detect" / "proposals"
    assert config_digest(RAW) == config_digest(SelectiveSearchConfig(resize_width=0))
    assert config_digest(RAW) != config_digest(SelectiveSearchConfig())
    with pytest.raises(TypeError):
        config_digest({"mode": "fast"})


# ------------------------------------------------------------------------------------------------ many images
def test_many_in_order_with_errors(tmp_path, image_and_gt, raw_boxes):
    img = image_and_gt[0]
    other = synthetic_image(seed=5)[0]
    good1 = write_rgb(tmp_path / "one.png", img)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a JPEG")
    good2 = write_rgb(tmp_path / "two.png", other)
    items = [good1, bad, str(tmp_path / "missing.png"), other, good2]
    cache = ProposalCache(tmp_path / "cache")

    results = list(selective_search_many(items, RAW, workers=2, cache=cache))
    assert [r.index for r in results] == list(range(len(items)))
    assert all(isinstance(r, ProposalResult) for r in results)
    assert [r.ok for r in results] == [True, False, False, True, True]
    assert "broken.jpg" in results[1].error and "decode" in results[1].error
    assert results[1].error.startswith(str(bad)), results[1].error  # the file's own problem, without "ImageError: "
    assert "missing.png" in results[2].error and results[2].boxes is None
    assert results[3].source == "<array 3>"
    # workers give what this process gives (the seed reaches the workers' C rand)
    np.testing.assert_array_equal(results[0].boxes, raw_boxes)
    other_boxes = selective_search(other, RAW)
    np.testing.assert_array_equal(results[3].boxes, other_boxes)
    np.testing.assert_array_equal(results[4].boxes, other_boxes)
    assert not any(r.cached for r in results)

    # second pass, in this process: files come from the cache
    again = list(selective_search_many([good1, bad, good2], RAW, workers=0, cache=cache))
    assert [r.cached for r in again] == [True, False, True]
    np.testing.assert_array_equal(again[0].boxes, raw_boxes)
    np.testing.assert_array_equal(again[2].boxes, other_boxes)


def test_many_rejects_bad_arguments():
    with pytest.raises(ValueError, match="workers"):
        selective_search_many([], RAW, workers=-1)
    with pytest.raises(TypeError, match="config"):
        selective_search_many([], {"mode": "fast"})
    assert list(selective_search_many([], RAW, workers=2)) == []


def _echo_or_die(task):
    """A worker body for _ordered_map: dies (as a native crash would) on "die", echoes otherwise."""
    if task == "die":
        os._exit(3)
    return task


def _echo_after_ctrl_c(task):
    """A worker body that first gets the SIGINT a Ctrl-C sends to the whole process group."""
    if task == "interrupt":
        os.kill(os.getpid(), signal.SIGINT)
    return task


def test_workers_leave_ctrl_c_to_the_run():
    """A worker ignores SIGINT (the run stops its workers itself): before, it raised KeyboardInterrupt and printed a
    traceback from inside the pool (user trial)."""
    assert list(_ordered_map(_echo_after_ctrl_c, ["a", "interrupt", "b"], 1, lambda t, m: m)) == ["a", "interrupt", "b"]


def test_ordered_map_survives_a_dying_worker():
    tasks = ["a", "b", "die", "c", "d"]
    out = list(_ordered_map(_echo_or_die, tasks, 2, lambda task, message: f"{task}: {message}"))
    assert out[:2] == ["a", "b"] and out[3:] == ["c", "d"]
    assert out[2].startswith("die: the worker process died")


# ------------------------------------------------------------------------------------------------ recall
def test_recall_and_mabo_by_hand():
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32), np.array([[0, 0, 4, 4]], np.float32)]
    props = [
        # image 0: IoU with gt0 = 0.64 (8x8 inside 10x10), then an exact hit on gt1, then an exact hit on gt0
        np.array([[1, 1, 9, 9], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32),
        # image 1: IoU 0.5 (4x2 of a 4x4 box)
        np.array([[0, 0, 4, 2]], np.float32),
    ]
    r = recall_at(gt, props, iou_thresholds=(0.5, 0.7), top_ns=(1, 2, None))
    assert r == {
        (0.5, 1): 2 / 3, (0.5, 2): 1.0, (0.5, None): 1.0,  # IoU 0.5 counts (>=)
        (0.7, 1): 0.0, (0.7, 2): 1 / 3, (0.7, None): 2 / 3,
    }
    np.testing.assert_allclose(best_overlaps(gt, props, top_n=1), [0.64, 0.0, 0.5])
    assert mean_best_overlap(gt, props) == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    assert mean_best_overlap(gt, props, top_n=1) == pytest.approx((0.64 + 0.0 + 0.5) / 3)


def test_recall_edge_cases():
    gt = [np.array([[0, 0, 10, 10]], np.float32), np.zeros((0, 4), np.float32)]
    none = [np.zeros((0, 4), np.float32), np.array([[0, 0, 5, 5]], np.float32)]
    assert recall_at(gt, none, (0.5,), (10, None)) == {(0.5, 10): 0.0, (0.5, None): 0.0}
    assert mean_best_overlap(gt, none) == 0.0
    empty = recall_at([np.zeros((0, 4))], [np.zeros((0, 4))], (0.5,), (None,))
    assert np.isnan(empty[(0.5, None)])
    assert np.isnan(mean_best_overlap([], []))
    with pytest.raises(ValueError, match="2 images"):
        recall_at(gt, none[:1])


def test_nothing_beside_onnx_runtime_draws_from_the_c_rand_selective_search_ranks_by():
    """Trial 39: ONNX Runtime 1.29+ starts a telemetry thread that calls the C library's rand() every few seconds, so
    selective search in a process that had loaded it ranked the same image's boxes otherwise now and then.
    `import detector` sets ORT_DISABLE_TELEMETRY=1 first: over 14 s (its first draw came 8-12 s after the import)
    no other thread draws from rand()."""
    import subprocess
    import sys

    code = """
import ctypes, time, detector, onnxruntime
libc = ctypes.CDLL(None)
libc.srand(1); want = [libc.rand() for _ in range(3)]
libc.srand(1); first = libc.rand(); time.sleep(14); rest = [libc.rand(), libc.rand()]
print([first, *rest] == want)
"""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True", out.stdout


@pytest.mark.parametrize("code, env, warned", [
    ("import onnxruntime, detector", {}, True),  # too late for the variable: said (trial 40)
    ("import onnxruntime, detector", {"ORT_DISABLE_TELEMETRY": "1"}, False),
    ("import detector, onnxruntime", {}, False),
])
def test_onnx_runtime_imported_before_detector_is_warned_of(code, env, warned):
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert ("onnxruntime was imported before detector without ORT_DISABLE_TELEMETRY=1" in out.stderr) == warned, \
        out.stderr
