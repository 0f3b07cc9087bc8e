"""The per-image work of ``detect run`` and the engines that run it: ``local`` (selective search in worker
processes feeding the classifier in this one — a producer/consumer pipeline) and ``ray`` (the same work in Ray
actors, on this machine or a cluster).

Every engine turns ``(index, path, name)`` tasks into part-file records (``detector/data/boxes_json.py``); the caller
writes them as they come, so the output does not depend on the engine or on the order of completion."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from detector.data import boxes_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobConfig:
    """Everything a worker needs to rebuild the pipeline (plain data, so it can be sent to Ray actors)."""

    model_paths: tuple[str, ...]
    method: str = "ss"  # ss | multibox | both
    multibox_path: str | None = None
    ss_mode: str = "fast"
    ss_scale: float = 2.0
    max_proposals: int = 2000
    nms_iou: float = 0.3
    score_threshold: float = 0.05
    max_detections: int = 100
    batch_size: int = 64
    device: str = "cpu"
    cache_dir: str | None = None
    use_cache: bool = True
    draw_dir: str | None = None
    draw_threshold: float = 0.3
    threads: int = 0  # torch threads in this worker (0: leave torch's default)
    amp: bool = True  # bfloat16 autocast of the networks on CUDA (never on CPU)
    backend: str = "auto"  # auto | onnx | torch (crops-mode members on the CPU through ONNX Runtime or PyTorch)

    def result_settings(self) -> dict:
        """The settings that decide the detections (the job's identity for --resume and merge)."""
        return {"proposals": self.method, "ss_mode": self.ss_mode, "ss_scale": self.ss_scale,
                "max_proposals": self.max_proposals, "nms_iou": self.nms_iou,
                "score_threshold": self.score_threshold, "max_detections": self.max_detections,
                "backend": self.backend}


@dataclass
class ImageJob:
    """Builds the proposal source and the detector once, then turns images into records."""

    config: JobConfig
    ss_workers: int | None = 0
    members: list = field(init=False)
    classes: tuple = field(init=False)

    def __post_init__(self):
        from detector.classifier import load_ensemble
        from detector.nn.device import resolve_device
        from detector.pipeline import Detector, PostprocessConfig
        from proposals.cache import ProposalCache
        from proposals.merge import MergeConfig
        from proposals.selective_search import SelectiveSearchConfig

        from .sources import ProposalSource, load_multibox_or_fail

        c = self.config
        if c.threads:
            torch.set_num_threads(c.threads)
        dev = resolve_device(c.device)
        self.members = load_ensemble([Path(p) for p in c.model_paths], device=dev)
        self.classes = self.members[0].classes
        cache = ProposalCache(c.cache_dir) if c.use_cache else None
        multibox = load_multibox_or_fail(Path(c.multibox_path) if c.multibox_path else None, dev) \
            if c.method != "ss" else None
        post = PostprocessConfig(nms_iou=c.nms_iou, score_threshold=c.score_threshold,
                                 max_detections=c.max_detections)
        self.detector = Detector(None, self.members, post, batch_size=c.batch_size,
                                 max_proposals=c.max_proposals, device=dev, amp=c.amp,
                                 backend=c.backend)
        self.device = dev
        self.names = {k + 1: cat.name for k, cat in enumerate(self.classes)}
        if self.detector.uses_onnx and not self.ss_workers and c.method != "multibox":
            # ONNX Runtime's threads draw from the C library's rand(), which orders OpenCV's selective-search
            # boxes: in this process the order (and so which boxes a cap keeps) would vary from run to run
            self.ss_workers = 1
        self.source = ProposalSource(c.method, SelectiveSearchConfig(mode=c.ss_mode, scale=c.ss_scale),
                                     MergeConfig(max_proposals=c.max_proposals), multibox, self.ss_workers, cache,
                                     dev)

    def records(self, tasks: list[tuple[int, Path, str]]) -> Iterator[tuple[dict, dict]]:
        """Tasks ``(index, path, name)`` → ``(record, timings)`` in task order; proposals for later images are
        computed (in ``ss_workers`` processes) while this process classifies earlier ones. Closing the generator
        stops those processes."""
        stream = self.source.run([t[1] for t in tasks])
        try:
            for (index, path, name), (_, image, boxes, _, prop_seconds, error) in zip(tasks, stream):
                yield self.record(index, path, name, image, boxes, prop_seconds, error)
        finally:
            stream.close()

    def record(self, index, path, name, image, boxes, prop_seconds, error) -> tuple[dict, dict]:
        """One image's record: its entry and detections (and its picture written under ``draw_dir``), or, when
        anything fails on the way, an ``error`` record saying what — one image never ends a job."""
        if error is not None:
            return boxes_json.error_record(index, name, _short_error(error, path)), {"proposals": prop_seconds}
        stage = "detection"
        try:
            det = self.detector.detect(image, proposals=boxes)
            stage = "output"
            rec = self.entry(index, name, image, det)
            if self.config.draw_dir is not None:
                stage = "drawing"
                self.draw(name, image, det)
        except Exception as e:  # noqa: BLE001 - record it, log the trace, go on
            logger.warning("%s failed on %s", stage, path, exc_info=True)
            return boxes_json.error_record(index, name, f"{stage} failed: {type(e).__name__}: {e}"), \
                {"proposals": prop_seconds}
        det.timings["proposals"] = prop_seconds
        return rec, {**det.timings, "regions": det.num_proposals}

    def entry(self, index, name, image, det) -> dict:
        from detector.data.boxes_json import image_record

        h, w = image.shape[:2]
        return image_record(index, name, w, h, det.boxes, det.scores, det.labels, self.classes)

    def draw(self, name: str, image, det) -> Path:
        """Write the picture of ``name``'s detections to ``draw_dir / name``: the same relative path and file
        name as the input (so ``x.jpg`` and ``x.png`` stay two pictures), in the format its suffix names, written
        atomically."""
        from PIL import Image

        from detector.data.io import atomic_write
        from detector.draw import draw_detections

        target = Path(self.config.draw_dir) / name
        fmt = Image.registered_extensions().get(target.suffix.lower())
        if fmt is None:
            raise ValueError(f"no image format writes {target.suffix!r} files")
        shown = det.scores >= self.config.draw_threshold
        picture = draw_detections(image, det.boxes[shown], det.scores[shown], det.labels[shown], self.names)
        options = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
        return atomic_write(target, lambda f: picture.save(f, format=fmt, **options))


def _short_error(message: str, path: Path) -> str:
    """Drop the file name and exception class from a message (boxes.json names the file itself)."""
    message = message.replace(f"{path}: ", "")
    if ": " in message and message.split(": ", 1)[0].isidentifier():
        head, rest = message.split(": ", 1)
        if head.endswith("Error") or head.endswith("Exception"):
            message = rest
    return message


# ---------------------------------------------------------------------------------------------------- engines


def run_local(job: ImageJob, tasks: list) -> Iterator[tuple[dict, dict]]:
    return job.records(tasks)


class _RayWorker:
    """One Ray actor: a whole pipeline."""

    def __init__(self, config: JobConfig):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # Selective search runs in a child process: OpenCV ranks its boxes with the C library's rand(), whose state
        # is process-wide, and Ray's own threads in this process draw from it too — in here the order (and so
        # which boxes a cap keeps) would change from run to run.
        self.job = ImageJob(config, ss_workers=1)

    def process(self, tasks):
        """A chunk of tasks → their (record, timings), in order; the chunk's selective search runs ahead in the
        child process while this one classifies."""
        return list(self.job.records([(index, Path(path), name) for index, path, name in tasks]))


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run_ray(config: JobConfig, tasks: list, *, address: str | None = None, actors: int | None = None,
            cpus_per_actor: float = 1.0, gpus_per_actor: float = 0.0, chunk: int = 8) -> Iterator[tuple[dict, dict]]:
    """Run the tasks on Ray actors (an ``ActorPool``), ``chunk`` images per call, results as chunks finish. ``address`` None starts a local Ray
    instance; else it joins that cluster (``auto`` = the one this node belongs to). Image, model and cache paths
    must be readable on every node (shared storage)."""
    import ray
    from ray.util import ActorPool

    started = not ray.is_initialized()
    if started:
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=cpu_count(), **kwargs)
    try:
        total = ray.cluster_resources().get("GPU" if gpus_per_actor else "CPU", 1)
        per = gpus_per_actor if gpus_per_actor else cpus_per_actor
        fit = max(1, int(total // per))
        if actors is None:
            actors = fit
        elif actors > fit:  # an actor that can never be placed would take tasks and hang the pool
            logger.warning("ray: %d actors asked for, but the cluster's %g %s fit only %d", actors, total,
                           "GPUs" if gpus_per_actor else "CPUs", fit)
            actors = fit
        chunks = [[(i, str(p), n) for i, p, n in tasks[s : s + chunk]] for s in range(0, len(tasks), chunk)]
        actors = max(1, min(actors, len(chunks) or 1))
        cls = ray.remote(num_cpus=cpus_per_actor, num_gpus=gpus_per_actor)(_RayWorker)
        threads = max(1, int(cpus_per_actor))
        worker_config = JobConfig(**{**config.__dict__, "threads": config.threads or threads})
        pool = ActorPool([cls.remote(worker_config) for _ in range(actors)])
        logger.info("ray: %d actors × %g CPU", actors, cpus_per_actor)
        for results in pool.map_unordered(lambda a, c: a.process.remote(c), chunks):
            yield from results
    finally:
        if started:
            ray.shutdown()


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)

