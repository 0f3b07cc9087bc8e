"""``detect run``: detect objects in images and write ``boxes.json``."""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from pathlib import Path

import click
from tqdm import tqdm

from detector.classifier import CheckpointError, load_ensemble
from detector.data.images import ImageError, scan_images
from detector.data import boxes_json
from detector.data.boxes_json import PartError, PartWriter, Shard, assemble, digest, part_path, read_part
from detector.data.io import JobLock, LockedError, check_writable_dir, file_sha256
from detector.nn.onnx import onnx_available
from detector.nn.device import resolve_device
from detector.pipeline import PostprocessConfig

from .jobs import ImageJob, JobConfig, cpu_count, ray_available, run_ray
from .sources import DEFAULT_MULTIBOX

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "detector" / "models" / "default"


def default_model_paths() -> list[Path]:
    found = sorted(DEFAULT_MODEL_DIR.glob("*.pt")) if DEFAULT_MODEL_DIR.is_dir() else []
    if not found:
        raise click.ClickException(
            "no --model given and no bundled default model is installed "
            f"(looked in {DEFAULT_MODEL_DIR}). Train one with `detect train classifier --gt GT --out model.pt` "
            "and pass it with --model model.pt (or a folder of members).")
    return found


@click.command("run")
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="boxes.json", show_default=True,
              help="Output file (written atomically).")
@click.option("--model", "models", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Model file or folder of ensemble members; repeat for an ensemble. Default: the bundled model.")
@click.option("--proposals", "method", type=click.Choice(["ss", "multibox", "both"]), default="ss",
              show_default=True,
              help="Region proposals: ss = selective search; multibox = the MultiBox network; both = the paper's "
                   "merge of the two.")
@click.option("--multibox", "multibox_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="MultiBox model for --proposals multibox/both (default: the bundled one).")
@click.option("--ss-mode", type=click.Choice(["fast", "quality", "single"]), default="fast", show_default=True,
              help="Selective search mode (R-CNN: fast).")
@click.option("--ss-scale", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Selective search superpixel scale (the paper: 2, about half the boxes of 1).")
@click.option("--max-proposals", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Regions scored per image, at most.")
@click.option("--score-threshold", type=click.FloatRange(0, 1), default=PostprocessConfig.score_threshold,
              show_default=True, help="Drop detections scoring below this.")
@click.option("--nms-iou", type=click.FloatRange(0, 1), default=PostprocessConfig.nms_iou, show_default=True,
              help="Per-class NMS IoU (the paper / R-CNN: 0.3).")
@click.option("--max-detections", type=click.IntRange(min=1), default=PostprocessConfig.max_detections,
              show_default=True, help="Detections kept per image, at most.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--amp/--no-amp", default=True, show_default=True,
              help="bfloat16 autocast of the networks on CUDA (ignored on CPU).")
@click.option("--backend", type=click.Choice(["auto", "onnx", "torch"]), default="auto", show_default=True,
              help="Runtime of crops-mode members on the CPU: onnx = ONNX Runtime (several times faster here, same "
                   "scores within 1e-5; see the README's benchmark), torch = PyTorch; auto = onnx when installed. "
                   "Fast-mode members and CUDA always use PyTorch.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Regions per CNN batch (bounds memory).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes for selective search, running ahead of the classifier (default: half the cores; 0 = "
                   "in this process, before each image's classification — with --backend torch only: next to ONNX "
                   "Runtime, whose threads share the C rand() that orders OpenCV's boxes, one process is used).")
@click.option("--threads", type=click.IntRange(min=0), default=0,
              help="Threads of the classifier (default: the cores the selective-search workers leave, at least 1).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Proposal cache (default: $DETECT_CACHE_DIR or ~/.cache/detect/proposals).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the proposal cache.")
@click.option("--draw", "draw_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write each image with its labelled boxes into this folder, under its file_name in OUT "
                   "(same relative path, name and format: x.jpg and x.png stay two pictures).")
@click.option("--draw-threshold", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Only detections scoring at least this are drawn (all above --score-threshold are written).")
@click.option("--format", "out_format", type=click.Choice(["json", "coco", "ilsvrc"]), default="json",
              show_default=True,
              help="json: boxes.json (the README's `detect run` section); coco: a COCO results list; ilsvrc: "
                   "ILSVRC submission text (image index = the image's id, its position in the input, from 1).")
@click.option("--resume", is_flag=True,
              help="Go on with an interrupted (killed, SIGTERM, Ctrl-C) run: skip the images already in "
                   "OUT.part.jsonl.")
@click.option("--shard", default=None, metavar="I/N",
              help="Process only shard I of N (a contiguous block of the sorted input list); combine the N outputs "
                   "with `detect merge`.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: selective search in --workers processes feeding the classifier here; ray: Ray actors "
                   "(pip install '.[ray]'), each a whole pipeline.")
@click.option("--address", default=None,
              help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start Ray on this machine.")
@click.option("--ray-actors", type=click.IntRange(min=1), default=None,
              help="Ray actors (default: cluster CPUs / --ray-cpus, or GPUs / --ray-gpus).")
@click.option("--ray-cpus", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="CPUs per Ray actor (also its torch threads).")
@click.option("--ray-gpus", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="GPUs per Ray actor (use with --device cuda).")
@click.option("--ray-chunk", type=click.IntRange(min=1), default=8, show_default=True,
              help="Images per Ray call (results reach OUT.part.jsonl a chunk at a time).")
def run_cmd(images, out, models, method, multibox_path, ss_mode, ss_scale, max_proposals, score_threshold, nms_iou,
            max_detections, device, amp, backend, batch_size, workers, threads, cache_dir, no_cache, draw_dir, draw_threshold,
            out_format, resume, shard, engine, address, ray_actors, ray_cpus, ray_gpus, ray_chunk):
    """Detect objects in IMAGES: a folder (searched recursively for jpg/jpeg/png/bmp/webp, following links to
    folders), one image, or a text file listing image paths. Images are read as a viewer shows them (EXIF
    orientation applied, 16-bit scaled to 8, transparency over white). Each is named in OUT by its path relative to
    the folder (for a list: to the deepest folder holding all listed images). Whatever fails on one image
    (unreadable, a broken link, an error in any stage) is recorded under "errors" and the job goes on.

    Results stream to OUT.part.jsonl as images finish (crash-safe: rerun with --resume to go on where a killed job
    stopped); OUT is written, atomically, once every image is done. A lock (OUT.lock) keeps a second run off the
    same OUT while this one lives; SIGTERM or Ctrl-C stop the run at once, keeping the part file."""
    try:
        inputs = scan_images(images)
        shard_ = Shard.parse(shard) if shard else None
        if device != "auto":
            resolve_device(device)
    except (ImageError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    for folder, what in ((out.parent, f"--out {out}"), (draw_dir, f"--draw {draw_dir}")):
        if folder is None:
            continue
        try:
            check_writable_dir(folder)
        except OSError as e:
            raise click.ClickException(f"cannot write {what}: {e.filename or folder}: {e.strerror or e}") \
                from None
    if engine == "ray" and not ray_available():
        raise click.ClickException("--engine ray needs Ray: pip install 'googlenet-detect[ray]' (or pip install "
                                   "'ray>=2.9')")
    if backend == "onnx" and not onnx_available():
        raise click.ClickException("--backend onnx needs ONNX Runtime: pip install onnxruntime onnx")
    if shard_ is not None and out_format != "json":
        raise click.ClickException("--shard writes boxes.json parts for `detect merge`: use --format json (convert "
                                   "after merging)")
    lock = JobLock(out)
    try:
        lock.acquire()
    except LockedError as e:
        raise click.ClickException(
            f"another detect run{f' (process {e.holder})' if e.holder else ''} is writing {out} now (it holds "
            f"{e.path}): wait for it to finish, or stop it and rerun with --resume") from None
    except OSError as e:
        raise click.ClickException(f"cannot lock {lock.path}: {e.strerror or e}") from None
    try:
        _run(inputs, images, out, models, method, multibox_path, ss_mode, ss_scale, max_proposals, score_threshold,
             nms_iou, max_detections, device, amp, backend, batch_size, workers, threads, cache_dir, no_cache,
             draw_dir, draw_threshold, out_format, resume, shard_, engine, address, ray_actors, ray_cpus, ray_gpus,
             ray_chunk)
    finally:
        lock.release()


class Terminated(BaseException):
    """SIGTERM reached ``detect run``. A BaseException, as KeyboardInterrupt: the per-image ``except Exception``
    that records one image's failure must not swallow it."""


@contextlib.contextmanager
def _sigterm_stops():
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (clean-up runs: the workers are
    stopped, the part file is synced); outside a main thread SIGTERM is left as it is."""
    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(inputs, images, out, models, method, multibox_path, ss_mode, ss_scale, max_proposals, score_threshold,
         nms_iou, max_detections, device, amp, backend, batch_size, workers, threads, cache_dir, no_cache, draw_dir,
         draw_threshold, out_format, resume, shard_, engine, address, ray_actors, ray_cpus, ray_gpus, ray_chunk):
    model_paths = [Path(p) for p in (models or default_model_paths())]
    try:
        members = load_ensemble(model_paths, device="cpu")  # here only for the class list and the checks
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    classes = members[0].classes
    member_files = [m.path for m in members]
    mb_file = (multibox_path or DEFAULT_MULTIBOX) if method != "ss" else None
    if engine == "local":
        # selective search and the CNN cost about the same per image here: split the cores between them (measured:
        # README, "Batch jobs"); a Ray actor sets its own threads
        cores = cpu_count()
        if workers is None:
            workers = max(1, cores // 2) if method != "multibox" else 0
        if not threads:
            threads = max(1, cores - workers)
    config = JobConfig(model_paths=tuple(str(p) for p in member_files), method=method,
                       multibox_path=str(multibox_path) if multibox_path else None, ss_mode=ss_mode,
                       ss_scale=ss_scale, max_proposals=max_proposals, nms_iou=nms_iou,
                       score_threshold=score_threshold, max_detections=max_detections, batch_size=batch_size,
                       device=device, cache_dir=str(cache_dir) if cache_dir else None, use_cache=not no_cache,
                       draw_dir=str(draw_dir) if draw_dir else None, draw_threshold=draw_threshold,
                       threads=threads, amp=amp, backend=backend)

    names = [i.name for i in inputs]
    problems = {k: i.problem for k, i in enumerate(inputs) if i.problem is not None}
    all_tasks = [(k, i.path, i.name) for k, i in enumerate(inputs)]
    start, stop = shard_.bounds(len(all_tasks)) if shard_ else (0, len(all_tasks))
    tasks = all_tasks[start:stop]
    job_info = {"inputs": len(all_tasks), "inputs_sha256": digest(names),
                "config_sha256": digest({"models": [file_sha256(f) for f in member_files],
                                         "multibox": file_sha256(mb_file) if mb_file else None,
                                         **config.result_settings()})}
    if shard_ is not None:
        job_info["shard"] = shard_.to_dict()
    model_info = {"name": members[0].train.get("name") or (members[0].path.parent.name if members[0].path else ""),
                  "classes": len(classes), "members": len(members), "files": [str(f) for f in member_files],
                  "proposals": method, "selective_search": {"mode": ss_mode, "scale": ss_scale},
                  "max_proposals": max_proposals, "mode": members[0].spec.mode,
                  "device": str(resolve_device(device)) if engine == "local" else device}
    header = boxes_json.header(job_info, model_info, classes)

    part = part_path(out)
    done: dict[int, dict] = {}
    if part.exists() and part.stat().st_size > 0:
        if not resume:
            raise click.ClickException(
                f"{part} holds the results of an interrupted run: add --resume to go on with it, or delete it to "
                "start over")
        try:
            old_header, done = read_part(part)
        except PartError as e:
            raise click.ClickException(f"cannot resume: {e}") from None
        for key, what in (("inputs_sha256", "the input images"), ("config_sha256", "the model or settings"),
                          ("shard", "the shard")):
            if old_header.get("job", {}).get(key) != job_info.get(key):
                raise click.ClickException(f"cannot resume from {part}: {what} differ from that run's (delete it "
                                           "to start over)")
        click.echo(f"resuming: {len(done)} of {len(tasks)} images already done ({part})", err=True)
    todo = [t for t in tasks if t[0] not in done and t[0] not in problems]
    known_bad = [t for t in tasks if t[0] not in done and t[0] in problems]

    totals = {"proposals": 0.0, "classify": 0.0, "nms": 0.0, "regions": 0}
    t0 = time.perf_counter()
    try:
        writer = PartWriter(part, header)
    except OSError as e:
        raise click.ClickException(f"cannot write {part}: {e.strerror or e}") from None
    interrupted, terminated, written = True, False, 0
    stream = bar = None
    try:
        with _sigterm_stops():
            for index, _, name in known_bad:
                writer.write(boxes_json.error_record(index, name, problems[index]))
                written += 1
            if engine == "ray":
                stream = run_ray(config, todo, address=address, actors=ray_actors, cpus_per_actor=ray_cpus,
                                 gpus_per_actor=ray_gpus, chunk=ray_chunk)
            else:
                stream = ImageJob(config, ss_workers=workers).records(todo)
            bar = tqdm(stream, total=len(tasks), initial=len(tasks) - len(todo), unit="img", desc="detect",
                       disable=None)
            for record, timings in bar:
                _write_record(writer, record)
                written += 1
                for k in totals:
                    totals[k] += timings.get(k, 0)
                if "image" in record:
                    bar.set_postfix(dets=len(record["detections"]), props=timings.get("regions", 0))
            interrupted = False
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    except Terminated:
        terminated = True
    except OSError as e:
        raise click.ClickException(f"stopped by an I/O error: {e}") from None
    finally:
        if bar is not None:
            bar.close()
        if stream is not None and hasattr(stream, "close"):
            stream.close()  # stops the selective-search workers (or Ray) at once
        writer.close()
        if interrupted:
            click.echo(f"stopped{' (SIGTERM)' if terminated else ''}: the {len(done) + written} images done so far "
                       f"are kept in {part}; to go on, run the same command again with --resume", err=True)
    if terminated:
        raise SystemExit(128 + signal.SIGTERM)
    seconds = time.perf_counter() - t0

    _, records = read_part(part)
    doc = assemble(header, {i: r for i, r in records.items() if start <= i < stop})
    try:
        boxes_json.write(out, doc, out_format)
    except OSError as e:
        raise click.ClickException(f"cannot write {out}: {e.strerror or e} (the results are kept in {part}: "
                                   "rerun with --resume once it can be written)") from None
    part.unlink()
    n, errors = len(doc["images"]), doc["errors"]
    where = f" (shard {shard_.index}/{shard_.count}: inputs {start + 1}–{stop} of {len(all_tasks)})" if shard_ else ""
    click.echo(f"{n} images, {len(doc['detections'])} detections, {len(errors)} errors → {out}{where}\n"
               f"{seconds:.1f} s for {len(todo)} images ({len(todo) / max(seconds, 1e-9):.2f} images/s, engine "
               f"{engine}); proposals {totals['proposals']:.1f} s, classify {totals['classify']:.1f} s, nms "
               f"{totals['nms']:.2f} s summed over images; {len(members)} member(s)")
    for e in errors[:10]:
        click.echo(f"  skipped {e['file_name']}: {e['error']}", err=True)
    if len(errors) > 10:
        click.echo(f"  … and {len(errors) - 10} more (see 'errors' in {out})", err=True)
    if draw_dir is not None:
        click.echo(f"drawings in {draw_dir}")


def _write_record(writer: PartWriter, record: dict) -> None:
    """Append one record; a record that is not JSON (a NaN score, say) is written as that image's error instead —
    writing one image's record never ends a job."""
    try:
        writer.write(record)
    except (ValueError, TypeError) as e:
        logger.warning("cannot write the record of input %s", record.get("index"), exc_info=True)
        name = (record.get("image") or record.get("error") or {}).get("file_name", "?")
        writer.write(boxes_json.error_record(record["index"], name,
                                             f"writing its record failed: {type(e).__name__}: {e}"))
