"""Where ``detect run`` and ``detect proposals`` get their regions: selective search (parallel, cached),
MultiBox, or both merged."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from detector.data.images import ImageError, load_image
from proposals.merge import merge_proposals
from proposals.selective_search import selective_search_many

DEFAULT_MULTIBOX = Path(__file__).resolve().parent.parent / "proposals" / "models" / "multibox.pt"

logger = logging.getLogger(__name__)


def load_multibox_or_fail(path, device):
    from proposals.multibox import load_multibox

    path = path or DEFAULT_MULTIBOX
    if not Path(path).is_file():
        raise click.ClickException(
            f"no MultiBox model at {path}: train one with `detect train multibox --gt GT --out multibox.pt` and "
            "pass it with --multibox")
    try:
        return load_multibox(path, device)[0]
    except ValueError as e:
        raise click.ClickException(str(e)) from None


class ProposalSource:
    """Selective search (parallel, cached), MultiBox, or their merge, for a list of images, in order."""

    def __init__(self, method, ss_config, merge_config, multibox, workers, cache, device):
        self.method, self.ss_config, self.merge_config = method, ss_config, merge_config
        self.multibox, self.workers, self.cache, self.device = multibox, workers, cache, device

    def run(self, paths):
        """Yield (path, image or None, boxes or None, scores or None, seconds, error) per input path, in order.

        Each image is decoded once (:func:`detector.data.images.load_image`): in its selective-search worker, which
        sends the pixels back with the boxes, or here for MultiBox alone; MultiBox, the classifier and drawing get
        those same pixels. Whatever goes wrong with one image (reading, decoding, a proposer raising) becomes its
        ``error``; the next image goes on. Closing the generator stops the workers."""
        if self.method == "multibox":
            ss_iter = iter([None] * len(paths))
        else:
            ss_iter = selective_search_many([str(p) for p in paths], self.ss_config, workers=self.workers,
                                            cache=self.cache, return_images=True)
        try:
            for path, ss in zip(paths, ss_iter):
                yield self._one(path, ss)
        finally:
            close = getattr(ss_iter, "close", None)
            if close is not None:
                close()

    def _one(self, path, ss):
        secs = ss.seconds if ss is not None else 0.0
        if ss is not None and not ss.ok:
            return path, None, None, None, secs, ss.error
        try:
            image = ss.image if ss is not None and ss.image is not None else load_image(path)
            if self.method == "ss":
                return path, image, ss.boxes, None, secs, None
            t = time.perf_counter()
            mb_boxes, mb_scores = self.multibox.propose(image, top_k=self.merge_config.multibox_top,
                                                        device=self.device)
            if self.method == "multibox":
                return path, image, mb_boxes, mb_scores, secs + time.perf_counter() - t, None
            boxes = merge_proposals(ss.boxes, mb_boxes, self.merge_config)
            return path, image, boxes, None, secs + time.perf_counter() - t, None
        except ImageError as e:
            return path, None, None, None, secs, str(e)
        except Exception as e:  # noqa: BLE001 - one image must never end a job: its error is recorded
            logger.warning("proposals failed on %s", path, exc_info=True)
            return path, None, None, None, secs, f"proposals failed: {type(e).__name__}: {e}"
