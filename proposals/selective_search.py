"""Selective search proposals (Uijlings et al. 2013) through OpenCV's ``cv2.ximgproc.segmentation``.

Boxes come back as ``float32 [R, 4]`` rows ``(x1, y1, x2, y2)`` in pixel coordinates of the ORIGINAL image (0-based,
``x2``/``y2`` exclusive, integer-valued), in OpenCV's order. OpenCV returns ``(x, y, w, h)`` on the resized image;
the conversion back happens here and nowhere else (``DESIGN.md``, "One box convention").

What OpenCV does (``modules/ximgproc/src/selectivesearchsegmentation.cpp``, opencv_contrib 4.x/5.x):

- ``switchToSelectiveSearchFast(base_k=150, inc_k=150, sigma=0.8)``: HSV and Lab images × graph segmentations with
  ``k = base_k, base_k + inc_k, base_k + 2 inc_k`` (150, 300, 450) × two similarity strategies;
- ``switchToSelectiveSearchQuality(base_k=150, inc_k=150, sigma=0.8)``: five colour images × five ``k`` values
  (150 … 750) × four strategies;
- ``switchToSingleStrategy(k=200, sigma=0.8)``: HSV × one ``k`` × one strategy (here ``k = base_k × scale``).
- Order: every region gets ``rank = rand() / RAND_MAX × level`` (level 1 = an initial superpixel) and the list is
  sorted by rank, ascending, then exact duplicates are dropped. This is the paper's ranking turned upside down
  (as its source comment says; the paper puts regions near the top of the hierarchy first): small regions come
  early. On 20 Penn-Fudan images the first 100 or 300 boxes in this order recall fewer pedestrians than 100 or 300
  boxes taken at random, so a cap
  (``max_boxes``) costs more than it would with the paper's order. ``rand()`` is the C library's generator, NOT
  ``cv::RNG``: ``cv2.setRNGSeed`` does not fix the order. :func:`selective_search` therefore seeds the C library's
  ``rand`` (``srand``, through ctypes) before each run, under a lock, so the same image and config always give the
  same boxes in the same order.

Shapes: H, W = original image size; R = number of boxes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import math
import os
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import cv2
import numpy as np

from detector.data.images import ImageError, load_image

__all__ = ["MODES", "SelectiveSearchConfig", "ProposalResult", "selective_search", "selective_search_many"]

logger = logging.getLogger(__name__)

MODES = ("fast", "quality", "single")
# Upper bounds of the user-facing settings (--ss-scale, --ss-resize-width), refused as usage errors before any work:
# past them a run failed image by image, in OpenCV's words (trial 56: --ss-scale 1e8 "integer won't fit into a C int",
# 1e308 "cannot convert float infinity to integer"; --ss-resize-width 99999999 "Failed to allocate 28799999412000003
# bytes"). Scale 1000 is k = 150,000, 500 times the paper's; 10,000 px is 20 times R-CNN's width.
MAX_SCALE = 1000.0
MAX_RESIZE_WIDTH = 10_000
MIN_SCALE = 0.1  # the user-facing floor of --ss-scale (our choice: k = 15, a tenth of OpenCV's default; the library's
#                 own check only asks for a positive scale)


MAX_SIDE_FACTOR = 4  # the resized image's long side is at most this x resize_width (our choice: R-CNN's width 500
#                     enlarges a narrow strip without bound); images of ordinary proportions are never affected


@dataclass(frozen=True)
class SelectiveSearchConfig:
    """Parameters of :func:`selective_search`. Every field takes part in the proposal cache key."""

    mode: str = "fast"  # R-CNN ran the "fast" mode; "quality" = OpenCV's quality mode; "single" = one strategy
    scale: float = 1.0  # multiplies the graph-segmentation k (base_k and inc_k); 2.0 = GoogLeNet paper
    # (doubled superpixel size, about half the proposals)
    resize_width: int = 500  # R-CNN resizes every image to width 500 (up or down) first; 0 = no resize
    min_size: int = 20  # R-CNN drops boxes under 20 px on a side; measured in ORIGINAL image pixels
    max_boxes: int = 0  # keep the first max_boxes in OpenCV's order (small regions first!); 0 = no cap
    base_k: int = 150  # OpenCV default base_k (fast/quality); "single" uses it as its k (OpenCV's own default: 200)
    inc_k: int = 150  # OpenCV default inc_k (fast/quality)
    sigma: float = 0.8  # OpenCV default (Felzenszwalb-Huttenlocher smoothing)
    seed: int = 0  # seeds C rand() (OpenCV's ranking; srand(seed + 1)) and cv2.setRNGSeed

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and 0 < self.scale <= MAX_SCALE):
            raise ValueError(f"scale must be a positive number at most {MAX_SCALE:g}, got {self.scale!r}")
        if isinstance(self.resize_width, (int, np.integer)) and self.resize_width > MAX_RESIZE_WIDTH:
            raise ValueError(f"resize_width must be at most {MAX_RESIZE_WIDTH}, got {self.resize_width!r}")
        for name in ("resize_width", "min_size", "max_boxes", "base_k", "inc_k", "seed"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.base_k < 1:
            raise ValueError(f"base_k must be at least 1, got {self.base_k}")
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be a non-negative number, got {self.sigma!r}")

    @property
    def scaled_k(self) -> tuple[int, int]:
        """``(base_k, inc_k)`` after ``scale``, rounded to the integers OpenCV takes (``base_k`` at least 1)."""
        return max(1, round(self.base_k * self.scale)), max(0, round(self.inc_k * self.scale))

    @property
    def ks(self) -> tuple[int, ...]:
        """The graph-segmentation ``k`` values OpenCV will run (fast: 3, quality: 5, single: 1)."""
        base, inc = self.scaled_k
        n = {"fast": 3, "quality": 5, "single": 1}[self.mode]
        return tuple(base + i * inc for i in range(n))


# ------------------------------------------------------------------------------------------ C rand() seeding
_RAND_LOCK = threading.Lock()  # rand() state is process-wide (glibc): one selective search at a time per process
_C_SRAND = None
_C_SRAND_LOOKED_UP = False


def _c_srand():
    """The C library's ``srand`` that OpenCV's ``rand()`` shares, or None where it cannot be found."""
    global _C_SRAND, _C_SRAND_LOOKED_UP
    if not _C_SRAND_LOOKED_UP:
        _C_SRAND_LOOKED_UP = True
        candidates = ["ucrtbase", "msvcrt"] if sys.platform == "win32" else [None, ctypes.util.find_library("c")]
        for name in candidates:
            try:
                fn = ctypes.CDLL(name).srand
            except (OSError, AttributeError, TypeError):
                continue
            fn.argtypes, fn.restype = [ctypes.c_uint], None
            _C_SRAND = fn
            break
        if _C_SRAND is None:
            logger.warning("cannot find the C library's srand(): selective search box order will vary between runs")
    return _C_SRAND


def _seed(seed: int) -> None:
    cv2.setRNGSeed(int(seed))
    srand = _c_srand()
    if srand is not None:
        # glibc's srand(0) is srand(1): shift by one so that seeds 0 and 1 differ; seed 0 then gives what OpenCV
        # gives in a fresh, never-seeded process (which starts as srand(1))
        srand((int(seed) + 1) & 0xFFFFFFFF)


# ------------------------------------------------------------------------------------------ one image
def _as_bgr(image: np.ndarray) -> np.ndarray:
    """RGB ``uint8 (H, W, 3)`` (or ``(H, W)`` grey, or ``(H, W, 4)`` RGBA) → contiguous BGR ``(H, W, 3)``."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image[:, :, ::-1])
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2BGR)
    raise ValueError(f"image must have shape (H, W, 3) RGB, got {image.shape}")


def _make_segmentation(bgr: np.ndarray, config: SelectiveSearchConfig):
    if not hasattr(cv2, "ximgproc"):  # opencv-python(-headless) installed instead of, or over, the contrib build
        raise RuntimeError("selective search needs OpenCV's contrib modules (cv2.ximgproc), which this OpenCV lacks: "
                           "pip uninstall opencv-python opencv-python-headless, then pip install "
                           "opencv-contrib-python-headless")
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(bgr)
    base_k, inc_k = config.scaled_k
    if config.mode == "fast":
        ss.switchToSelectiveSearchFast(base_k, inc_k, float(config.sigma))
    elif config.mode == "quality":
        ss.switchToSelectiveSearchQuality(base_k, inc_k, float(config.sigma))
    else:
        ss.switchToSingleStrategy(base_k, float(config.sigma))
    return ss


def _selective_search_bgr(bgr: np.ndarray, config: SelectiveSearchConfig) -> np.ndarray:
    """:func:`selective_search` on a BGR image."""
    height, width = bgr.shape[:2]
    if height == 0 or width == 0:
        return np.zeros((0, 4), dtype=np.float32)
    work = bgr
    if config.resize_width and config.resize_width != width:
        # R-CNN's width, unless the long side would pass MAX_SIDE_FACTOR x that width (a 25 x 4000 strip would
        # become 500 x 80,000 and take selective search most of an hour): then that long side instead
        new_w = config.resize_width
        new_h = max(1, round(height * new_w / width))
        long_side = MAX_SIDE_FACTOR * config.resize_width
        if max(new_w, new_h) > long_side:
            f = long_side / max(height, width)
            new_w, new_h = max(1, round(width * f)), max(1, round(height * f))
        # shrinking: INTER_AREA (anti-aliased, like R-CNN's MATLAB imresize); enlarging: INTER_LINEAR
        interp = cv2.INTER_AREA if new_w < width else cv2.INTER_LINEAR
        work = cv2.resize(bgr, (new_w, new_h), interpolation=interp)
    sx = width / work.shape[1]
    sy = height / work.shape[0]

    ss = _make_segmentation(work, config)
    with _RAND_LOCK:
        _seed(config.seed)
        rects = ss.process()  # R x 4 int32 (x, y, w, h) on `work`
    rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)

    # (x, y, w, h) on the resized image -> xyxy (x2 exclusive) on the original, whole pixels, inside the image
    boxes = np.empty_like(rects)
    boxes[:, 0] = rects[:, 0] * sx
    boxes[:, 1] = rects[:, 1] * sy
    boxes[:, 2] = (rects[:, 0] + rects[:, 2]) * sx
    boxes[:, 3] = (rects[:, 1] + rects[:, 3]) * sy
    boxes = np.rint(boxes)
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])

    keep = ((boxes[:, 2] - boxes[:, 0]) >= config.min_size) & ((boxes[:, 3] - boxes[:, 1]) >= config.min_size)
    keep &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes = boxes[keep]

    # exact duplicates (several resized boxes can round onto one original box): keep the first, keep the order
    _, first = np.unique(boxes, axis=0, return_index=True)
    boxes = boxes[np.sort(first)]
    if config.max_boxes:
        boxes = boxes[: config.max_boxes]
    return boxes.astype(np.float32)


def selective_search(image: np.ndarray, config: SelectiveSearchConfig = SelectiveSearchConfig()) -> np.ndarray:
    """Selective search boxes for one image.

    Args:
        image: ``uint8 (H, W, 3)`` RGB (``(H, W)`` grey and ``(H, W, 4)`` RGBA are accepted too).
        config: the parameters; see :class:`SelectiveSearchConfig`.

    Returns:
        ``float32 [R, 4]`` boxes ``(x1, y1, x2, y2)`` in ORIGINAL-image pixel coordinates (0-based, ``x2``/``y2``
        exclusive, integer-valued, clipped to the image), each side at least ``config.min_size``, no exact
        duplicates, in OpenCV's order (a seeded random order biased towards the regions lower in the merge
        hierarchy; see the module docstring), at most ``config.max_boxes`` when that is set.
        Deterministic: the same image and config give the same array.
    """
    return _selective_search_bgr(_as_bgr(image), config)


# ------------------------------------------------------------------------------------------ many images
@dataclass(frozen=True)
class ProposalResult:
    """The outcome for one input of :func:`selective_search_many`.

    ``boxes`` is ``float32 [R, 4]`` xyxy in original-image coordinates, or None when ``error`` says what went wrong.
    """

    index: int  # position in the input
    source: str  # the file path, or "<array N>" for an in-memory image
    boxes: np.ndarray | None
    error: str | None = None
    seconds: float = 0.0  # time spent on this image in its worker (reading, decoding, hashing, searching)
    cached: bool = False  # True when the boxes came from the cache
    image: np.ndarray | None = None  # the decoded RGB uint8 image the boxes were computed on (return_images=True)

    @property
    def ok(self) -> bool:
        return self.error is None


def _process_one(task) -> ProposalResult:
    """Worker body: never raises for a bad image, returns a :class:`ProposalResult` with ``error`` instead.

    A file is read once: its bytes give the cache key and are decoded by :func:`detector.data.images.load_image`
    (the project's one decoder: EXIF orientation applied, 16-bit scaled), so the boxes are computed on the very
    pixels every other stage gets (sent back in ``image`` when asked for)."""
    index, item, config, cache, want_image = task
    start = time.perf_counter()
    source = str(item) if isinstance(item, (str, os.PathLike)) else f"<array {index}>"
    try:
        image = None
        if isinstance(item, (str, os.PathLike)):
            with open(item, "rb") as f:
                data = f.read()
            boxes = None
            if cache is not None:
                key = cache.key(data, config)
                boxes = cache.get_key(key)
            cached = boxes is not None
            if boxes is None or want_image:
                image = load_image(item, data)
            if boxes is None:
                boxes = selective_search(image, config)
                if cache is not None:
                    cache.put_key(key, boxes)
        else:
            cached = False
            boxes = selective_search(item, config)
        return ProposalResult(index, source, boxes, seconds=time.perf_counter() - start, cached=cached,
                              image=image if want_image else None)
    except Exception as e:  # noqa: BLE001 - one bad image must not stop the batch
        message = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        if source not in message:
            message = f"{source}: {message}"
        # an image's own problem says itself, as does a file the system cannot open ("No such file or directory")
        kind = "" if isinstance(e, ImageError) or (isinstance(e, OSError) and e.strerror) else f"{type(e).__name__}: "
        return ProposalResult(index, source, None, error=f"{kind}{message}", seconds=time.perf_counter() - start)


def _logging_of_this_process() -> tuple[int, str | None]:
    """The root logger's level and its first handler's format here (``detect -v`` configures them), for workers."""
    root = logging.getLogger()
    fmt = next((h.formatter._fmt for h in root.handlers if h.formatter is not None), None)
    return root.level, fmt


def _worker_init(parent_pid: int, log_level: int = logging.WARNING, log_format: str | None = None) -> None:
    if log_format is not None:  # a worker's warnings (an image's damaged EXIF) in the run's form, not Python's bare
        # last-resort line (a forkserver or spawned worker starts with logging unconfigured: trial 35)
        logging.basicConfig(level=log_level, format=log_format)
    cv2.setNumThreads(1)  # selective search is single-threaded C++; parallelism comes from the processes
    # Ctrl-C reaches the whole process group: the run stops its workers itself (_kill_workers), so a worker ignores
    # it rather than print a KeyboardInterrupt traceback from the middle of the pool's queue handling
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with(parent_pid)


def _exit_with(parent_pid: int) -> None:
    """End this worker when the process that made its pool ends, however that ends (``kill -9`` runs no clean-up
    there). Otherwise it waits forever on a task queue no one writes to any more — and, as it holds the other end
    of the forkserver's "alive" pipe and of the resource tracker's pipe, it keeps those two processes alive too
    (each exits at end of file on its pipe, once every holder is gone), all with the dead run's stdout and stderr.

    A daemon thread waits on a pidfd of ``parent_pid`` (Linux 5.3+: readable once that process has exited; no pid
    reuse race), else polls it every second. The worker's own parent is the forkserver, not the run, so
    ``PR_SET_PDEATHSIG`` would not see the run die."""
    try:
        fd = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(1)  # already gone
    except (AttributeError, OSError):
        fd = None

    def watch():
        if fd is not None:
            select.select([fd], [], [])
        else:
            while True:
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name=f"exit-with-{parent_pid}", daemon=True).start()


def _mp_context():
    """forkserver where there is one (safe with torch / OpenMP threads alive in the parent), else spawn."""
    import multiprocessing as mp

    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _ordered_map(fn: Callable, tasks: Iterable, workers: int, describe: Callable) -> Iterator:
    """``map(fn, tasks)`` over a process pool, results in task order, at most ``2 × workers`` tasks in flight.

    ``fn`` must not raise (it reports errors in its result). A worker that dies (a crash in native code) breaks
    the pool: the tasks then in flight are rerun one at a time, each in a pool of its own, and the one that kills
    its worker again gets ``describe(task, message)`` as its result; the rest of the batch goes on in a new pool.
    """
    ctx = _mp_context()

    def new_pool(n):
        return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_init,
                                   initargs=(os.getpid(), *_logging_of_this_process()))

    def run_alone(task):
        with _stopping(new_pool(1)) as pool:
            try:
                return pool.submit(fn, task).result()
            except BrokenProcessPool:
                return describe(task, "the worker process died (a crash in native code, or it could not start)")

    pool = new_pool(workers)
    window: deque = deque()  # (task, future), in task order
    tasks = iter(tasks)
    finished = False
    try:
        exhausted = False
        while True:
            while not exhausted and len(window) < 2 * workers:
                try:
                    task = next(tasks)
                except StopIteration:
                    exhausted = True
                    break
                try:
                    window.append((task, pool.submit(fn, task)))
                except BrokenProcessPool:
                    window.append((task, None))
            if not window:
                finished = True
                return
            task, future = window[0]
            try:
                if future is None:
                    raise BrokenProcessPool
                result = future.result()
            except BrokenProcessPool:
                logger.warning("a selective search worker died; rerunning the %d image%s in flight one by one",
                               len(window), "" if len(window) == 1 else "s")
                pool.shutdown(wait=False, cancel_futures=True)
                in_flight = [t for t, _ in window]
                window.clear()
                for t in in_flight:
                    yield run_alone(t)
                pool = new_pool(workers)
                continue
            window.popleft()
            yield result
    finally:
        if not finished:  # stopped early (closed, an exception, a signal): the work in flight is not wanted
            _kill_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes at once (``shutdown`` would wait for the searches in flight, seconds each).
    ``ProcessPoolExecutor.kill_workers`` from Python 3.14; before, its table of processes."""
    if hasattr(pool, "kill_workers"):
        pool.kill_workers()
        return
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            p.kill()


@contextlib.contextmanager
def _stopping(pool: ProcessPoolExecutor):
    """``with pool``, but leaving by an exception kills the workers first instead of waiting for them."""
    try:
        yield pool
    except BaseException:
        _kill_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def selective_search_many(
    images: Iterable,
    config: SelectiveSearchConfig = SelectiveSearchConfig(),
    *,
    workers: int | None = None,
    cache=None,
    return_images: bool = False,
) -> Iterator[ProposalResult]:
    """Selective search over many images in parallel processes; yields one :class:`ProposalResult` per input, in
    input order, as soon as it (and every input before it) is done.

    Args:
        images: image file paths (``str`` / ``Path``) and/or RGB ``uint8 (H, W, 3)`` arrays.
        config: the parameters; see :class:`SelectiveSearchConfig`.
        workers: processes to use; None = the CPUs available; 0 = run in this process (1 = one worker process,
            so that the caller's own work overlaps with the search).
        cache: a :class:`proposals.cache.ProposalCache` (or None). Files are looked up by content hash and
            config, and stored after a miss; in-memory arrays bypass the cache.
        return_images: also return each file's decoded image (``ProposalResult.image``, RGB uint8, decoded once
            by :func:`detector.data.images.load_image`, even on a cache hit), so that the caller need not decode
            it again.

    An input that fails (unreadable or undecodable file, wrong array shape) gives a result with ``boxes=None`` and
    ``error`` set; the batch goes on. The iterator is its own progress hook::

        for r in tqdm(selective_search_many(paths, cfg, cache=cache), total=len(paths)): ...

    Workers use the ``forkserver`` start method (``spawn`` where there is none), so a parent holding torch threads
    is safe; each worker calls ``cv2.setNumThreads(1)`` and exits when this process ends, however it ends.
    Stopping the iteration early (``close()``, an exception) kills the workers and shuts the pool down.
    """
    if not isinstance(config, SelectiveSearchConfig):
        raise TypeError(f"config must be a SelectiveSearchConfig, got {type(config).__name__}")
    workers = _default_workers() if workers is None else int(workers)
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    tasks = ((i, item, config, cache, bool(return_images)) for i, item in enumerate(images))
    if workers == 0:
        return map(_process_one, tasks)

    def describe(task, message):
        index, item = task[:2]
        source = str(item) if isinstance(item, (str, os.PathLike)) else f"<array {index}>"
        return ProposalResult(index, source, None, error=f"{source}: {message}")

    return _ordered_map(_process_one, tasks, workers, describe)
