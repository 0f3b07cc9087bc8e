"""Where ``detect run`` and ``detect proposals`` get their regions: selective search (parallel, cached),
MultiBox, or both merged."""

from __future__ import annotations

import time
from pathlib import Path

import click

from detector.data.images import ImageError, load_image
from proposals.merge import merge_proposals
from proposals.selective_search import selective_search_many

DEFAULT_MULTIBOX = Path(__file__).resolve().parent.parent / "proposals" / "models" / "multibox.pt"


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
        """Yield (path, image or None, boxes or None, scores or None, seconds, error) per input path."""
        if self.method == "multibox":
            ss_iter = [None] * len(paths)
        else:
            ss_iter = selective_search_many([str(p) for p in paths], self.ss_config, workers=self.workers,
                                            cache=self.cache)
        for path, ss in zip(paths, ss_iter):
            if ss is not None and not ss.ok:
                yield path, None, None, None, ss.seconds, ss.error
                continue
            try:
                image = load_image(path)
            except ImageError as e:
                yield path, None, None, None, 0.0, str(e)
                continue
            secs = ss.seconds if ss is not None else 0.0
            if self.method == "ss":
                yield path, image, ss.boxes, None, secs, None
                continue
            t = time.perf_counter()
            mb_boxes, mb_scores = self.multibox.propose(image, top_k=self.merge_config.multibox_top,
                                                        device=self.device)
            secs += time.perf_counter() - t
            if self.method == "multibox":
                yield path, image, mb_boxes, mb_scores, secs, None
            else:
                yield path, image, merge_proposals(ss.boxes, mb_boxes, self.merge_config), None, secs, None
