"""Proposers: plain callables ``image -> float32 [R, 4]`` boxes ``(x1, y1, x2, y2)`` in the image's pixels, for one
RGB ``uint8`` H x W x 3 image — selective search, MultiBox, or the paper's merge of both — offered by name in
:data:`PROPOSERS` (``click.Choice(PROPOSERS)`` reads its keys), and their batched form for many image files,
:func:`propose_many`, which runs the selective-search part in worker processes ahead of the caller.

A proposer returns its boxes best first where it ranks them (MultiBox, the merge) and uncapped for selective search
alone (OpenCV's seeded order; :attr:`ProposalConfig.max_proposals` caps what a detector scores). Each proposer
splits into the part that needs only the file (``search``: the selective-search settings, or None) and the rest
(:meth:`after_search`), so that :func:`propose_many` can run the first in worker processes, where each file is also
decoded once (:func:`detector.data.images.load_image`) and its pixels are sent back for every later stage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from detector.data.images import ImageError, load_image
from detector.nn.checkpoint import CheckpointError

from .merge import MergeConfig, merge_proposals
from .multibox import MultiBox, load_multibox
from .selective_search import SelectiveSearchConfig, selective_search, selective_search_many

__all__ = ["BUNDLED_MULTIBOX", "ProposalConfig", "proposal_config", "SelectiveSearchProposer", "MultiBoxProposer",
           "MergedProposer", "PROPOSERS", "build_proposer", "load_proposal_multibox", "Proposed", "propose_many"]

logger = logging.getLogger(__name__)

BUNDLED_MULTIBOX = Path(__file__).resolve().parent / "models" / "multibox.pt"  # proposals/models/README.md


@dataclass(frozen=True)
class ProposalConfig:
    """Where a detector's regions come from; the defaults are the paper's where it gives them."""

    method: str = "ss"  # a key of PROPOSERS: ss (R-CNN), multibox, both (the paper: selective search + MultiBox)
    selective_search: SelectiveSearchConfig = SelectiveSearchConfig(scale=2.0)  # the paper doubled the superpixel
    #                                         size (about half R-CNN's boxes); fast mode, width 500, 20 px (R-CNN)
    merge: MergeConfig = MergeConfig()  # the top 200 MultiBox boxes (the paper) and the cap of the regions scored
    multibox: str | None = None  # MultiBox model file for multibox/both; None: BUNDLED_MULTIBOX

    def __post_init__(self):
        if self.method not in PROPOSERS:
            raise ValueError(f"unknown proposal method {self.method!r}; expected one of {', '.join(PROPOSERS)}")

    @property
    def max_proposals(self) -> int:
        """Regions a detector scores per image, at most (:attr:`MergeConfig.max_proposals`, also the merged set's
        cap)."""
        return self.merge.max_proposals

    @property
    def multibox_path(self) -> Path | None:
        """The MultiBox model file this config uses (None for selective search alone)."""
        if not PROPOSERS[self.method].uses_multibox:
            return None
        return Path(self.multibox) if self.multibox else BUNDLED_MULTIBOX


def proposal_config(o: dict, method: str | None = None) -> ProposalConfig:
    """The :class:`ProposalConfig` of a command's options ``o`` by their keyword names — ``method`` (``--proposals``),
    ``ss_mode``, ``ss_scale``, ``ss_resize_width``, ``max_proposals``, ``multibox_top``, ``multibox_path``
    (``--multibox``; None: the bundled network) — for ``method`` (None: ``o["method"]``). The one mapping of these
    options, shared by ``detect run`` and the Python API (:func:`detector.engines.config_from_options`) and by
    ``detect proposals`` (one config per ``--method``). Raises ``ValueError`` for a value a config refuses."""
    return ProposalConfig(
        method=o["method"] if method is None else method,
        selective_search=replace(ProposalConfig.selective_search, mode=o["ss_mode"], scale=o["ss_scale"],
                                 resize_width=o["ss_resize_width"]),
        merge=replace(ProposalConfig.merge, max_proposals=o["max_proposals"], multibox_top=o["multibox_top"]),
        multibox=str(o["multibox_path"]) if o["multibox_path"] else None)


class SelectiveSearchProposer:
    """Selective search (:func:`proposals.selective_search.selective_search`) with ``search``: all its boxes, in
    OpenCV's seeded order. Deterministic in a process without ONNX Runtime sessions (their threads share the C
    ``rand()`` that orders the boxes; :func:`propose_many` searches in worker processes)."""

    uses_multibox = False
    network = None  # no MultiBox network

    def __init__(self, search: SelectiveSearchConfig):
        self.search = search

    @classmethod
    def from_config(cls, config: ProposalConfig, multibox: MultiBox | None = None, device="cpu"):
        return cls(config.selective_search)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.after_search(image, selective_search(image, self.search))[0]

    def after_search(self, image: np.ndarray, ss_boxes: np.ndarray | None) -> tuple[np.ndarray, None]:
        """The boxes, given the selective-search boxes of ``image``: those themselves."""
        return ss_boxes, None


class MultiBoxProposer:
    """The MultiBox network's top ``top_k`` boxes after its NMS, best first (Erhan et al. 2014)."""

    uses_multibox = True
    search = None

    def __init__(self, model: MultiBox, top_k: int, device="cpu"):
        self.model, self.top_k, self.device = model, top_k, device

    @property
    def network(self) -> MultiBox:
        """The MultiBox network that proposes."""
        return self.model

    @classmethod
    def from_config(cls, config: ProposalConfig, multibox: MultiBox | None = None, device="cpu"):
        return cls(multibox, config.merge.multibox_top, device)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.after_search(image, None)[0]

    def after_search(self, image: np.ndarray, ss_boxes: None) -> tuple[np.ndarray, np.ndarray]:
        """Boxes [R, 4] and their confidences [R] (no selective search is involved)."""
        return self.model.propose(image, top_k=self.top_k, device=self.device)


class MergedProposer:
    """The paper's proposal set: MultiBox's top boxes ∪ selective search, near-duplicates removed, capped
    (:func:`proposals.merge.merge_proposals`)."""

    uses_multibox = True

    def __init__(self, search: SelectiveSearchConfig, multibox: MultiBoxProposer, merge: MergeConfig):
        self.search, self.multibox, self.merge = search, multibox, merge

    @property
    def network(self) -> MultiBox:
        """The MultiBox network whose boxes are merged with selective search's."""
        return self.multibox.model

    @classmethod
    def from_config(cls, config: ProposalConfig, multibox: MultiBox | None = None, device="cpu"):
        return cls(config.selective_search, MultiBoxProposer.from_config(config, multibox, device), config.merge)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.after_search(image, selective_search(image, self.search))[0]

    def after_search(self, image: np.ndarray, ss_boxes: np.ndarray) -> tuple[np.ndarray, None]:
        return merge_proposals(ss_boxes, self.multibox(image), self.merge), None


PROPOSERS = {"ss": SelectiveSearchProposer, "multibox": MultiBoxProposer, "both": MergedProposer}


def boxes_beyond_k(top: int, network: MultiBox | None) -> int | None:
    """K, the boxes the MultiBox ``network`` outputs an image, when ``top`` (``--multibox-top``) asks for more — it
    proposes at most K, fewer after its NMS; None when it does not, or there is no network."""
    k = None if network is None else int(network.config.num_priors)
    return k if k is not None and top > k else None


def beyond_k_warning(top: int, network: MultiBox | None, asked: str, path) -> str | None:
    """The warning, when ``top`` asks for more boxes than the K the MultiBox ``network`` (read from ``path``) outputs
    (:func:`boxes_beyond_k`), that it proposes K at most; ``asked``: the setting as the caller spells it
    (``--multibox-top 500``, ``multibox_top=500``, a preset's named after it); ``path`` None: the bundled network.
    None when it does not."""
    k = boxes_beyond_k(top, network)
    return None if k is None else (f"{asked} is more than the {k} boxes (K) the MultiBox network "
                                   f"{path or BUNDLED_MULTIBOX} outputs: it proposes at most {k} an image (fewer "
                                   "after its NMS)")


def load_proposal_multibox(path, device="cpu") -> MultiBox:
    """The MultiBox network of ``path`` (None: :data:`BUNDLED_MULTIBOX`) in eval mode on ``device``. Raises
    :class:`CheckpointError` naming the file when there is none or it cannot be used."""
    path = Path(path or BUNDLED_MULTIBOX)
    if not path.is_file():
        raise CheckpointError(
            f"no MultiBox model at {path}: train one with `detect train multibox --gt GT --out multibox.pt` and "
            "pass it with --multibox")
    return load_multibox(path, device)[0]


def build_proposer(config: ProposalConfig, device="cpu", *, multibox: MultiBox | None = None):
    """The proposer ``config`` names, its MultiBox network loaded onto ``device`` (``multibox``: one already loaded)
    when it needs one. Raises :class:`CheckpointError` for a missing or unusable MultiBox file."""
    kind = PROPOSERS[config.method]
    if kind.uses_multibox and multibox is None:
        multibox = load_proposal_multibox(config.multibox_path, device)
    return kind.from_config(config, multibox, device)


class Proposed(NamedTuple):
    """One image's proposals from :func:`propose_many`: its pixels (decoded once), boxes float32 [R, 4] xyxy, the
    MultiBox confidences [R] where MultiBox alone proposed them, the seconds spent, or the error that stopped it
    (then ``image`` and ``boxes`` are None)."""

    path: Path
    image: np.ndarray | None = None  # RGB uint8 H x W x 3
    boxes: np.ndarray | None = None
    scores: np.ndarray | None = None
    seconds: float = 0.0
    error: str | None = None
    cached: bool = False  # its selective search came from the cache (then ``seconds`` leaves the search out)


def propose_many(proposer, paths: Sequence, *, workers: int | None = 0, cache=None, decode_threads: int = 0
                 ) -> Iterator[Proposed]:
    """``proposer``'s boxes for each image file of ``paths``, in order, as a :class:`Proposed` per file.

    The selective-search part (``proposer.search``) runs in ``workers`` processes (None: one per CPU; 0: here),
    up to two images per worker ahead of the caller, each file read and decoded once there and looked up in
    ``cache`` (a :class:`proposals.cache.ProposalCache`) by content; the rest (:meth:`after_search`: MultiBox, the
    merge) runs here on the pixels sent back. Whatever goes wrong with one image (reading, decoding, a proposer
    raising) becomes its ``error`` and the next image goes on. Closing the iterator stops the workers.

    Without selective search (MultiBox alone) the files are decoded here; ``decode_threads`` > 0 decodes them in
    that many threads, up to two images per thread ahead of the caller (Pillow's decoders release the GIL)."""
    search = getattr(proposer, "search", None)
    if search is None and decode_threads > 0:
        ss_iter = _decoded_ahead(paths, decode_threads)
    elif search is None:
        ss_iter = iter([None] * len(paths))
    else:
        ss_iter = selective_search_many([str(p) for p in paths], search, workers=workers, cache=cache,
                                        return_images=True)
    try:
        for path, ss in zip(paths, ss_iter):
            yield _finish(proposer, Path(path), ss)
    finally:
        close = getattr(ss_iter, "close", None)
        if close is not None:
            close()


def _decoded_ahead(paths: Sequence, threads: int) -> Iterator:
    """Each file of ``paths`` decoded (:func:`load_image`) in a thread pool, in order, as a stand-in
    ``ProposalResult`` without boxes (``ok``, ``image``, ``seconds``, ``error``)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from .selective_search import ProposalResult

    def decode(k, path):
        t = time.perf_counter()
        try:
            return ProposalResult(k, str(path), None, seconds=time.perf_counter() - t, image=load_image(path))
        except ImageError as e:
            return ProposalResult(k, str(path), None, error=str(e), seconds=time.perf_counter() - t)

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode")
    window: deque = deque()
    todo = iter(enumerate(paths))
    try:
        for k, path in todo:
            window.append(pool.submit(decode, k, path))
            if len(window) >= 2 * threads:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _finish(proposer, path: Path, ss) -> Proposed:
    """The rest of one image's proposals after its selective search ``ss`` (a ``ProposalResult``, or None)."""
    seconds = ss.seconds if ss is not None else 0.0
    if ss is not None and not ss.ok:
        return Proposed(path, seconds=seconds, error=ss.error)
    try:
        image = ss.image if ss is not None and ss.image is not None else load_image(path)
        t = time.perf_counter()
        boxes, scores = proposer.after_search(image, ss.boxes if ss is not None else None)
        return Proposed(path, image, boxes, scores, seconds + time.perf_counter() - t,
                        cached=ss is not None and ss.cached)
    except ImageError as e:
        return Proposed(path, seconds=seconds, error=str(e))
    except Exception as e:  # noqa: BLE001 - one image must never end a job: its error is recorded
        logger.warning("proposals failed on %s: %s: %s", path, type(e).__name__, e,
                       exc_info=logger.isEnabledFor(logging.DEBUG))  # the trace with -vv
        return Proposed(path, seconds=seconds, error=f"proposals failed: {type(e).__name__}: {e}")
