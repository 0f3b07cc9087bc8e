"""``detect run``: detect objects in images and write ``boxes.json``.

The command maps its options to a :class:`detector.engines.RunConfig` (:func:`detector.engines.apply_preset`,
:func:`detector.engines.config_from_options`: the library's, which :mod:`detector.api` shares), picks an engine, and
streams the engine's records into the part file; the pipeline itself is the library's (``ARCHITECTURE.md``)."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
from PIL import Image
from tqdm import tqdm

from detector.classifier import CheckpointError, load_ensemble, member_files
from detector.data import boxes_json
from detector.data.boxes_json import BoxesJsonError, PartError, PartWriter, Shard, part_path, read_part
from detector.data.coco import coco_gt_ids
from detector.data.images import ImageError, file_stamp, image_size, scan_images
from detector.data.io import JobLock, lock_path, model_files_in, not_a_file
from detector.data.vocab import select_classes
from detector.classifier import MODES
from detector.engines import (ENGINES, PRESETS, DetectionJob, DrawConfig, RayConfig, RunConfig, apply_preset,
                              bundled_model_files, job_entry, job_settings, model_entry, ray_available, redraw, run_ray,
                              setting_unused, shown_setting, split_cores)
from detector.engines import config_from_options as from_options
from detector.engines import unused_options
from detector.nn.device import resolve_device
from detector.nn.onnx import BACKENDS, onnx_available
from detector.nn.transforms import FAST_MIN_SIDE
from detector.nn.options import option_flag
from detector.pipeline import MAX_REFINE, NMS_KINDS, PostprocessConfig
from proposals.cache import default_cache_dir
from proposals.merge import MAX_MULTIBOX_TOP
from proposals.proposers import PROPOSERS, ProposalConfig, load_proposal_multibox

from .common import (FiniteFloat, OutDir, OutFile, Terminated, cache_options, check_beside_out, check_out_folder,
                     classes_not_in_gt, count, device_option, multibox_option, none_used_error, note_duplicates,
                     selective_search_options, sigterm_stops, take_lock, warn_multibox_top, written_count)

logger = logging.getLogger(__name__)

def default_model_paths(name: str = "default") -> list[Path]:
    """The member files of the bundled model ``name`` (:func:`detector.engines.bundled_model_files`), or a
    :class:`click.ClickException` saying what to do when it is not installed."""
    try:
        return bundled_model_files(name)
    except FileNotFoundError as e:
        raise click.ClickException(
            f"no --model given and {e}. "
            + ("Run the paper's path instead (--preset paper), or give " if name == "fast" else
               "Train one with `detect train classifier --gt GT --out model.pt` and pass it with ")
            + "--model model.pt (or a folder of members).") from None
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None


@click.command("run")
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=OutFile("boxes.json"), default="boxes.json", show_default=True,
              help="Output file (written atomically; an existing file is replaced only when it is an earlier "
                   "output: boxes.json, COCO results or ILSVRC text).")
@click.option("--model", "models", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Model file or folder of ensemble members; repeat for an ensemble. Default: the bundled model.")
@click.option("--proposals", "method", type=click.Choice(PROPOSERS), default=ProposalConfig.method,
              show_default=True,
              help="Region proposals: ss = selective search; multibox = the MultiBox network; both = the paper's "
                   "merge of the two.")
@multibox_option
@selective_search_options
@click.option("--max-proposals", type=click.IntRange(min=1), default=ProposalConfig.merge.max_proposals,
              show_default=True, help="Regions scored per image, at most.")
@click.option("--multibox-top", type=click.IntRange(1, MAX_MULTIBOX_TOP), default=ProposalConfig.merge.multibox_top,
              show_default=True, help="MultiBox boxes kept, best first (--proposals multibox or both; the paper: "
                                      "200; --preset fast: 100).")
@click.option("--preset", type=click.Choice(PRESETS), default="paper", show_default=True,
              help="A whole configuration (README, \"Presets\"): paper = the paper's path (the defaults; with "
                   "Soft-NMS, --nms greedy for R-CNN's NMS); fast = "
                   "--proposals both --ss-mode single --ss-resize-width 250 --multibox-top 100 --refine 1 and the "
                   "bundled fast model (detector/models/fast: one crops-mode member; about 6x the images/s of "
                   "paper, 1.7 points of mAP below) — with --model, of an ensemble with crops-mode members those "
                   "alone. "
                   "Options given explicitly override the preset's.")
@click.option("--mode", type=click.Choice(MODES), default=RunConfig.mode,
              help="crops: every region warped and run through the whole network (the paper); fast: one trunk pass "
                   "per image, region features pooled from it. Default: the model's own. The same weights serve "
                   "both, but an ensemble with members trained in the mode asked for runs those alone (the bundled "
                   "one: member0 crops, member1-member3 fast, all by default).")
@click.option("--fast-short-side", type=click.IntRange(min=FAST_MIN_SIDE), default=RunConfig.fast_short_side,
              help="Fast mode: images resized to this short side (default: the model's own) …")
@click.option("--fast-max-side", type=click.IntRange(min=FAST_MIN_SIDE), default=RunConfig.fast_max_side,
              help="… unless the long side would pass this (default: the model's own).")
@click.option("--score-threshold", type=FiniteFloat(0, 1), default=PostprocessConfig.score_threshold,
              show_default=True, help="Drop class scores below this before NMS (under Soft-NMS a kept box's "
                                      "decayed score can fall below it, down to 0.001).")
@click.option("--nms", type=click.Choice(NMS_KINDS), default=PostprocessConfig.nms, show_default=True,
              help="Per-class non-maximum suppression: soft = Gaussian Soft-NMS (Bodla et al. 2017: overlapping "
                   "boxes keep a decayed score; measured 1.3 points of mean mAP above greedy, README \"Soft-NMS\"); "
                   "greedy = R-CNN's (boxes overlapping a better one by more than --nms-iou dropped).")
@click.option("--nms-iou", type=FiniteFloat(0, 1), default=PostprocessConfig.nms_iou, show_default=True,
              help="--nms greedy: the IoU above which a box is dropped (the paper / R-CNN: 0.3); --refine moves the "
                   "kept boxes after NMS, so they may then overlap more.")
@click.option("--soft-nms-sigma", type=FiniteFloat(0, 10, min_open=True), default=PostprocessConfig.soft_nms_sigma,
              show_default=True, help="--nms soft: scores decay by exp(-IoU^2 / sigma) (Bodla et al.: 0.5).")
@click.option("--max-detections", type=click.IntRange(min=1), default=PostprocessConfig.max_detections,
              show_default=True, help="Detections kept per image, at most.")
@click.option("--classes", multiple=True, metavar="NAMES", callback=lambda ctx, param, value: value or None,
              help="Keep only these classes' detections: names separated by commas, or the option repeated "
                   "(`--classes person,dog`); the model's names (any case), ILSVRC WordNet ids, or VOC / COCO names "
                   "of the same class (motorbike, tv); `detect inspect MODEL` lists a model's classes. Default: "
                   "every class.")
@click.option("--refine", type=click.IntRange(0, MAX_REFINE), default=PostprocessConfig.refine, show_default=True,
              help="Iterative localization (Gidaris & Komodakis 2015): each kept detection's box scored again and "
                   "moved by the model's box regression, this many times (0 = off; --preset fast: 1; nothing to do "
                   "for a model without box regression). Costs one more pass over at most --max-detections regions "
                   "per step.")
@device_option
@click.option("--amp/--no-amp", default=RunConfig.amp, show_default=True,
              help="bfloat16 autocast of the networks on CUDA (ignored on CPU).")
@click.option("--backend", type=click.Choice(BACKENDS), default=RunConfig.backend,
              show_default=True,
              help="Runtime of the members on the CPU: onnx = ONNX Runtime (crops mode, and fast mode's GoogLeNet; "
                   "several times faster here, same scores within 1e-5; see the README's benchmark), torch = "
                   "PyTorch; auto = onnx when installed. CUDA always uses PyTorch.")
@click.option("--batch-size", type=click.IntRange(min=1), default=RunConfig.batch_size, show_default=True,
              help="Regions per CNN batch (bounds memory).")
@click.option("--image-batch", type=click.IntRange(min=1), default=RunConfig.image_batch, show_default=True,
              help="Images scored together: in fast mode (PyTorch) one trunk pass for all of them, the batch copied "
                   "to the device from pinned memory — for GPUs; 1 = image by image.")
@click.option("--decode-threads", type=click.IntRange(min=0), default=RunConfig.decode_threads, show_default=True,
              help="Threads decoding images ahead of the classifier when no selective-search process does "
                   "(--proposals multibox); 0 = decode in turn.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes for selective search, running ahead of the classifier (default: half the cores; 0 = "
                   "in this process, before each image's classification — with --backend torch only: next to ONNX "
                   "Runtime, whose threads share the C rand() that orders OpenCV's boxes, one process is used).")
@click.option("--threads", type=click.IntRange(min=0), default=RunConfig.threads,
              help="Threads of the classifier (default, or 0: the cores the selective-search workers leave, at least "
                   "1; every core with --ss-mode single, whose workers need little).")
@cache_options
@click.option("--draw", "draw_dir", type=OutDir("drawn/"), default=None,
              help="Also write each image with its labelled boxes into this folder, under its file_name in OUT "
                   "(same relative path, name and format: x.jpg and x.png stay two pictures). With --resume, the "
                   "images taken from the part file (or a finished OUT) are drawn too where their picture is missing "
                   "or was drawn at another --draw-threshold.")
@click.option("--draw-threshold", type=FiniteFloat(0, 1), default=DrawConfig.threshold, show_default=True,
              help="Only detections scoring at least this are drawn (every detection is written).")
@click.option("--format", "out_format", type=click.Choice(boxes_json.OUTPUT_FORMATS), default="json",
              show_default=True,
              help="json: boxes.json (the README's `detect run` section); coco: a COCO results list; ilsvrc: "
                   "ILSVRC submission text (image index = the image's id, its position in the input, from 1).")
@click.option("--coco-gt", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --format coco: the COCO ground truth whose ids the results take, for pycocotools alone "
                   "(loadRes + COCOeval): image_id from its images[].file_name, matched by path as detect eval "
                   "matches; category_id by class (detections of classes it lacks left out). An input image not "
                   "in it, or of another size than its image there, is refused before any work.")
@click.option("--resume", is_flag=True,
              help="Go on with an interrupted (killed, SIGTERM, Ctrl-C) run: skip the images already in "
                   "OUT.part.jsonl (one whose file changed since, by size or modification time, runs again).")
@click.option("--shard", default=None, metavar="I/N",
              help="Process only shard I of N (a contiguous block of the sorted input list); combine the N outputs "
                   "with `detect merge`.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: selective search in --workers processes feeding the classifier here; ray: Ray actors "
                   "(pip install '.[ray]'), each a whole pipeline.")
@click.option("--address", default=RayConfig.address,
              help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start Ray on this machine.")
@click.option("--ray-actors", type=click.IntRange(min=1), default=RayConfig.actors,
              help="Ray actors (default: cluster CPUs / --ray-cpus, or GPUs / --ray-gpus).")
@click.option("--ray-cpus", type=FiniteFloat(min=0.01), default=RayConfig.cpus_per_actor, show_default=True,
              help="CPUs per Ray actor (also its torch threads).")
@click.option("--ray-gpus", type=FiniteFloat(min=0), default=RayConfig.gpus_per_actor, show_default=True,
              help="GPUs per Ray actor (use with --device cuda).")
@click.option("--ray-chunk", type=click.IntRange(min=1), default=RayConfig.chunk, show_default=True,
              help="Images per Ray call (results reach OUT.part.jsonl a chunk at a time).")
@click.pass_context
def run_cmd(ctx, images, out, out_format, resume, shard, engine, preset, **options):
    """Detect objects in IMAGES: a folder (searched recursively for jpg/jpeg/jpe/jfif/png/bmp/webp/avif/tif/tiff/gif,
    any case, following links to folders — a file reached again through a link to a folder runs once, two links to
    one file are two images; HEIC files are listed under "errors"), one image, or a text file listing image paths.
    Images are read as a viewer shows them (EXIF orientation applied, 16-bit scaled to 8, transparency over white).
    Each is named in OUT by its path relative to the folder (for a list: to the deepest folder holding all listed
    images). Whatever fails on one image (unreadable, a broken link, an error in any stage) is recorded under
    "errors" and the job goes on (exit status 1 only when no input at all could be used); a picture
    that cannot be drawn (--draw) is listed under "drawing_errors", the image's detections kept.

    Results stream to OUT.part.jsonl as images finish (crash-safe: rerun with --resume to go on where a killed job
    stopped); OUT is written, atomically, once every image is done. A lock (OUT.lock) keeps a second run off the
    same OUT while this one lives; SIGTERM or Ctrl-C stop the run at once, keeping the part file."""
    explicit = {k for k in options if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
    options = apply_preset(options, preset, explicit)
    options["refine_given"] = "refine" in explicit  # else the preset's (or the default): said so in a note
    # --multibox-top asked for (a preset's too), not its default: a value above the network's K is warned of
    options["multibox_top_whose"] = "" if "multibox_top" in explicit else \
        " (the preset's)" if "multibox_top" in PRESETS[preset] else None
    if options["multibox_path"] is not None:
        explicit.add("multibox_path")
    unused = unused_options(explicit, options, _spell)
    if unused:
        raise click.UsageError(unused[0])
    if "draw_threshold" in explicit and options["draw_dir"] is None:  # trial 56: taken without a word, nothing drawn
        raise click.UsageError("--draw-threshold is a setting of --draw (which detections its pictures show; every "
                               "detection is written to OUT): add --draw DIR, or drop --draw-threshold")
    ray_given = [option_flag(k) for k in ("address", "ray_actors", "ray_cpus", "ray_gpus", "ray_chunk")
                 if k in explicit]
    if ray_given and engine != "ray":  # trial 29: --address auto ran on this machine without a word
        raise click.UsageError(f"{', '.join(ray_given)} {'is a setting' if len(ray_given) == 1 else 'are settings'} "
                               f"of --engine ray, and this run's engine is --engine {engine}: add --engine ray, or "
                               f"drop {'it' if len(ray_given) == 1 else 'them'}")
    try:  # "" (an unset $SHARD) is refused, not no shard; a usage error, status 2 (trial 40: it was 1)
        shard = Shard.parse(shard) if shard is not None else None
    except ValueError as e:
        raise click.BadParameter(str(e).removeprefix("--shard "), param_hint="'--shard'") from None
    duplicates: list[tuple[str, str]] = []
    try:
        inputs = scan_images(images, duplicates)
        note_duplicates(images, duplicates)
        if options["device"] != "auto":
            resolve_device(options["device"])
        if options["coco_gt"] is not None and out_format != "coco":
            raise click.UsageError("--coco-gt gives a COCO results file the ground truth's ids: use it with "
                                   "--format coco")  # an option mistake: status 2, as the others (trial 30)
        options["coco_gt"] = coco_gt_ids(options["coco_gt"], [i.name for i in inputs],
                                         _header_sizes(inputs)) if options["coco_gt"] else None
    except (ImageError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    _refuse_overwrites(images, inputs, out, options["draw_dir"], out_format)
    _refuse_replacing_read_files(out, out_format, options)
    cache = None
    if options["method"] != "multibox" and not options["no_cache"]:
        cache = options["cache_dir"] or default_cache_dir()
    _check_before_work(out, options["draw_dir"], engine, options["backend"], shard, out_format, cache)
    lock = JobLock(out)
    try:
        take_lock(lock, "detect run", out)
    except OSError as e:
        raise click.ClickException(f"cannot lock {lock.path}: {e.strerror or e}") from None
    try:
        _run(inputs, out, out_format, resume, shard, engine, options)
    finally:
        lock.release()


def _spell(key: str, value=None) -> str:
    """An option as the command line writes it (:func:`detector.engines.unused_options`): ``--nms greedy``."""
    return option_flag(key, {"method": "--proposals", "multibox_path": "--multibox"}, value)


def _header_sizes(inputs) -> dict[str, tuple[int, int]]:
    """(width, height) of each readable input as decoded (its header alone); an unreadable one is left out here and
    listed under the run's errors when its turn comes."""
    sizes = {}
    for i in inputs:
        if i.problem is None:
            try:
                sizes[i.name] = image_size(i.path)
            except (OSError, ValueError, Image.DecompressionBombError):
                pass
    return sizes


def _refuse_overwrites(source: Path, inputs, out: Path, draw_dir: Path | None, out_format: str = "json") -> None:
    """Refuse, before any work, outputs that would replace an input or each other: ``--out`` (or the image list
    ``--format ilsvrc`` writes beside it) naming an input image or the list of images ``source``, or no file at all
    (a folder is refused while parsing: :class:`cli.common.OutFile`); ``--draw`` onto ``--out``, into a folder where
    a picture would replace the image it shows (the input folder itself), or anywhere under the input folder
    ``source`` (its pictures would be inputs of the next run on that folder)."""
    if not out.name:
        raise click.ClickException(f"--out {str(out)!r}: give a file name for the output")
    real = os.path.realpath  # never raises (a link loop among the inputs is listed under errors later)
    images = {real(i.path) for i in inputs}
    for path, what in boxes_json.output_paths(out, out_format):  # --out, and ilsvrc's image list beside it
        named = f"--out {out}" if path == out else f"{path} (the {what} --format {out_format} writes beside --out)"
        if real(path) in images:
            raise click.ClickException(f"{named} is one of the input images: it would be replaced")
        if Path(source).is_file() and real(path) == real(source):
            raise click.ClickException(f"{named} is the input {source}: it would be replaced")
    if draw_dir is None:
        return
    if real(draw_dir) == real(out):
        raise click.ClickException(f"--draw {draw_dir} and --out {out} are the same path")
    for i in inputs:
        target = real(draw_dir / i.name)
        if target in images:
            raise click.ClickException(f"--draw {draw_dir} would replace the input image {target} with its "
                                       "picture: draw into another folder")
    if Path(source).is_dir() and Path(real(draw_dir)).is_relative_to(real(source)):
        raise click.ClickException(f"--draw {draw_dir} is inside the input folder {source}: its pictures would be "
                                   "read as input images by the next run on that folder; draw into another folder")


def _refuse_replacing_read_files(out: Path, out_format: str, options: dict) -> None:
    """Refuse, before any work, an ``--out`` (or the image list ``--format ilsvrc`` writes beside it) that names a
    file the run reads besides its images: a ``--model`` member, the ``--multibox`` network, the ``--coco-gt``
    ground truth (trial 57: each was replaced by the detections, the model or the annotations lost)."""
    real = os.path.realpath
    read: dict[str, str] = {}
    for given in map(Path, options["models"] or ()):  # a folder's every model file (not member_files, whose
        # warnings the model's loading gives, once)
        for f in model_files_in(given) if given.is_dir() else [given]:
            read[real(f)] = f"the --model file {f}"
    if options.get("multibox_path") is not None:
        read[real(options["multibox_path"])] = f"the --multibox file {options['multibox_path']}"
    if options.get("coco_gt") is not None:
        read[real(options["coco_gt"].source)] = f"the --coco-gt file {options['coco_gt'].source}"
    for path, what in boxes_json.output_paths(out, out_format):
        if real(path) in read:
            named = f"--out {out}" if path == out else f"{path} (the {what} --format {out_format} writes beside --out)"
            raise click.ClickException(f"{named} is {read[real(path)]}, which this run reads: it would be replaced")


def _check_before_work(out: Path, draw_dir: Path | None, engine: str, backend: str, shard, out_format: str,
                       cache_dir: Path | None = None) -> None:
    """Refuse, before any model or image is read, what cannot work: an output folder or the proposal cache's folder
    that cannot be written, a symbolic link at the part file (never written through: :class:`PartWriter`; one at
    the lock is refused by :class:`JobLock`), a device, pipe or socket where the run keeps its part file or lock or
    where ``out_format`` writes a file beside ``out`` (:func:`cli.common.check_beside_out`), an engine or back-end
    that is not installed, shards in another form than boxes.json."""
    for folder, what in ((out.parent, f"--out {out}"), (draw_dir, f"--draw {draw_dir}")):
        if folder is not None:
            check_out_folder(folder, what)
    part = part_path(out)
    if part.is_symlink():  # its results would fill the link's target, and only the link be deleted at the end
        raise click.ClickException(f"{part} is a symbolic link, which the run never writes through (its results "
                                   "would fill the file the link points to), where the run keeps its part file: "
                                   "remove the link, or choose another --out")
    for path, role in ((part, "part file"), (lock_path(out), "lock")):
        what = not_a_file(path)  # a pipe there would block the run forever (trial 11)
        if what is not None:
            raise click.ClickException(f"{path} is {what}, where the run keeps its {role}: remove it, or choose "
                                       "another --out")
    check_beside_out(out, out_format)
    if cache_dir is not None:
        check_out_folder(cache_dir, f"the proposal cache (--cache-dir or $DETECT_CACHE_DIR; --no-cache to do "
                                    f"without) {cache_dir}")
    if engine == "ray" and not ray_available():
        raise click.ClickException("--engine ray needs Ray: pip install 'googlenet-detect[ray]' (or pip install "
                                   "'ray>=2.9')")
    if backend == "onnx" and not onnx_available():
        raise click.ClickException("--backend onnx needs ONNX Runtime: pip install onnxruntime onnx")
    if shard is not None and out_format != "json":  # an option mistake: status 2, as --coco-gt's (trial 44)
        raise click.UsageError("--shard writes boxes.json parts for `detect merge`: use --format json (`detect "
                               "merge --format coco|ilsvrc` converts them)")


def _run(inputs, out: Path, out_format: str, resume: bool, shard, engine: str, options: dict) -> None:
    """Load the ensemble (once), write the part file's header (or resume it), stream the engine's records into it,
    then write OUT."""
    local = engine == "local"
    device = str(resolve_device(options["device"])) if local else options["device"]
    given = [Path(p) for p in options["models"]]
    bundled = options.get("bundled_model") if not given else None  # the preset's own model folder
    files = given or default_model_paths(bundled or "default")
    try:  # the local engine uses these members; the Ray actors load their own (only the classes are needed here)
        members = load_ensemble(files,
                                device=device if local else "cpu", mode=options["mode"],
                                fast_short_side=options["fast_short_side"], fast_max_side=options["fast_max_side"],
                                prefer_mode=options.get("prefer_mode"))
    except (CheckpointError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if options["classes"] is not None:
        try:
            options = {**options, "classes": select_classes(members[0].classes, options["classes"])}
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--classes'") from None
        if options["coco_gt"] is not None:  # before any image: results of no category of it would be left out
            lacking = options["coco_gt"].lacking([c for c in members[0].classes if c.name in options["classes"]])
            if lacking:
                raise click.UsageError(classes_not_in_gt(options["coco_gt"], lacking, "--classes"))
    if options.get("prefer_mode") and (given or bundled) or options["mode"]:  # the user's members, the preset's
        # model folder (a member added to detector/models/fast), or --mode on any ensemble: say which were left out
        ran = {m.path for m in members}
        left = [f.name for f in member_files(files) if f not in ran]
        whose = f"members of {Path(files[0]).parent}" if bundled else "members"
        if left and options["mode"]:
            click.echo(f"note: --mode {options['mode']} runs the {options['mode']}-mode {whose} alone; left out: "
                       f"{', '.join(left)}", err=True)
        elif left:
            click.echo(f"note: the preset runs the {options['prefer_mode']}-mode {whose} alone; left out: "
                       f"{', '.join(left)}" + ("" if bundled else " (--mode chooses the members' mode instead)"),
                       err=True)
    if options["refine"] and not any(m.spec.bbox_reg for m in members):
        whose = "" if options.get("refine_given") else " (the preset's)"
        click.echo(f"note: --refine {options['refine']}{whose} does nothing here: no member regresses boxes", err=True)
    workers = None
    if local:
        workers, threads = split_cores(options["method"], options["workers"], options["threads"],
                                       options["ss_mode"])
        options = {**options, "threads": threads}
    config = from_options(options, [m.path for m in members])
    job = multibox = None
    try:  # before the part file exists: an unusable part (a bad --multibox) leaves nothing to block the next run
        if local:
            job = DetectionJob(config, members=members, ss_workers=workers)
            multibox = job.detector.proposer.network
        elif PROPOSERS[config.proposals.method].uses_multibox:
            multibox = load_proposal_multibox(config.proposals.multibox_path)  # the Ray actors load their own
    except (CheckpointError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if options.get("multibox_top_whose") is not None:
        warn_multibox_top(config.proposals.merge.multibox_top, multibox, config.proposals.multibox_path,
                          options["multibox_top_whose"])

    tasks = [(k, i.path, i.name) for k, i in enumerate(inputs)]
    start, stop = shard.bounds(len(tasks)) if shard else (0, len(tasks))
    if shard and start == stop:  # trial 19: it printed "0 images" and nothing more
        click.echo(f"note: shard {shard.index}/{shard.count} holds no input: {count(len(tasks), 'input')} split into "
                   f"{shard.count} shards leave some empty; its output lists no image, and `detect merge` takes it "
                   "with the others", err=True)
    header = boxes_json.header(job_entry(config, members, [i.name for i in inputs], shard),
                               model_entry(config, members, device), members[0].classes,
                               settings=job_settings(config, members), names=[i.name for i in inputs])
    if config.postprocess.classes is not None:  # the categories detected: `detect eval --model-classes-only` scores
        # these alone (their ids stay the model's)
        header["categories"] = [c for c in header["categories"] if c["name"] in config.postprocess.classes]
    part = part_path(out)
    if resume and not (part.exists() and part.stat().st_size > 0):
        finished = _finished_job(out, out_format)
        output_changed = _output_changed(finished, boxes_json.output_entry(out_format, options["coco_gt"])) \
            if finished is not None else None
        if finished is not None and _same_job(finished["job"], header["job"]) and not output_changed:
            click.echo(f"nothing to resume: {out} is this job's finished output (same input names, model, settings "
                       "and shard — the images' contents are not compared: delete it to run again, e.g. after "
                       "replacing an image)", err=True)  # trial 55: "same inputs" of a replaced image
            if config.draw is not None:  # trial 46: an empty folder, without a word
                _draw_finished(out, out_format, inputs, config.draw)
            if finished["none_used"]:  # as the run that wrote it ended (trial 39: a requeued job then exited 0)
                raise none_used_error(finished["none_used"], out, out_format, named=None)
            return
        if finished is not None:  # another job's output: run, and say what differs before it is replaced
            changed = "; ".join(_differences(finished, header, output_changed))
            hint = _preset_hint(finished.get("settings"), header.get("settings"),
                                (finished.get("model") or {}).get("files"), None if given else _preset_models(),
                                (header.get("model") or {}).get("files"))
            whose = "the finished output of this job in another form" if _same_job(finished["job"], header["job"]) \
                else "the finished output of another job"  # trial 61: --format coco over its boxes.json, unsaid
            click.echo(f"note: {out} is {whose}{': ' + changed if changed else ''} — it will be replaced{hint}",
                       err=True)
    # each input file as it is before this run reads it: kept with its record, so that a later --resume tells an
    # image replaced since (a stat now: a file changed while the run goes is run again, never kept stale)
    stamps = {k: file_stamp(path) for k, path, _ in tasks[start:stop]}
    done = _resumed(part, header, resume, stop - start, model_given=bool(given), stamps=stamps)
    problems = {k: i.problem for k, i in enumerate(inputs) if i.problem is not None}
    todo = [t for t in tasks[start:stop] if t[0] not in done and t[0] not in problems]
    known_bad = [_stamped(boxes_json.error_record(k, name, problems[k]), stamps) for k, _, name in tasks[start:stop]
                 if k not in done and k in problems]
    redrawn = _redrawn(done, inputs, config.draw, header["categories"])

    def stream():
        if job is not None:
            records = job.records(todo)
        else:
            records = run_ray(config, todo, RayConfig(options["address"], options["ray_actors"], options["ray_cpus"],
                                                      options["ray_gpus"], options["ray_chunk"]))
        return _stamped_all(records, stamps)

    t0 = time.perf_counter()
    totals = _stream_to_part(part, header, known_bad, stream, total=stop - start, done=stop - start - len(todo),
                             kept=len(done), redrawn=redrawn)
    seconds = time.perf_counter() - t0
    _, records = read_part(part)
    doc = boxes_json.assemble(header, {i: r for i, r in records.items() if start <= i < stop})
    try:
        written = boxes_json.write(out, doc, out_format, coco_gt=options["coco_gt"])
    except OSError as e:
        raise click.ClickException(f"cannot write {e.filename or out}: {e.strerror or e} (the results are kept in "
                                   f"{part}: rerun with --resume once it can be written)") from None
    part.unlink()
    span = f"inputs {start + 1}–{stop}" if stop > start + 1 else f"input {stop}" if stop > start else "no inputs"
    where = f" (shard {shard.index}/{shard.count}: {span} of {len(tasks)})" if shard else ""
    if out_format == "ilsvrc":  # the submission's numbering, which detect eval --image-list needs (older note)
        where += f" and its image list {boxes_json.image_list_path(out)}"
    _report(doc, out, where, seconds, len(todo), engine, totals, members, options["draw_dir"],
            written_count(doc, written, out_format, options["coco_gt"]), resumed=bool(done),
            draw_threshold=options["draw_threshold"])
    if doc["errors"] and not doc["images"]:  # a script must see it (noticed in round 16: every input failed, exit 0)
        raise none_used_error(len(doc["errors"]), out, out_format)


def _finished_job(out: Path, out_format: str) -> dict | None:
    """``out`` as a part-file header would hold its job (``job``, ``model``, ``settings``), with the ``output`` form
    it was written in (:func:`detector.data.boxes_json.output_entry`), when it is a boxes.json that ``detect run``
    finished or a ``coco`` / ``ilsvrc`` output with its job record (:func:`detector.data.boxes_json.read_job_record`)
    — whichever ``out_format`` this run writes, so that one written in another form is named as such before it is
    replaced (trial 61: ``--format coco --resume`` over the job's own boxes.json ran it again without a word) —,
    else None: other files keep no job entry."""
    record = boxes_json.read_job_record(out)
    if record is None:
        if out_format != "json" and out.is_file() and boxes_json.job_record_path(out).is_file():
            # trial 44: ran again without a word
            click.echo(f"note: {out} is not the output its job record {boxes_json.job_record_path(out)} "
                       "describes (changed since it was written, or the record is unreadable): the job runs "
                       "again", err=True)
        return _finished_document(out)
    job = record["job"]
    errors = record.get("errors") if isinstance(record.get("errors"), list) else []
    return {"job": job, "model": record.get("model"), "settings": job.get("settings"), "input_names": None,
            "none_used": len(errors) if errors and not record.get("images") else 0,
            "output": record.get("output")}


def _finished_document(out: Path) -> dict | None:
    """:func:`_finished_job` of a boxes.json (``--format json``) at ``out``; None for any other file."""
    if not out.is_file():
        return None
    try:
        doc = boxes_json.read_document(out)
        job = doc.get("job")
    except (BoxesJsonError, AttributeError):
        return None
    if not isinstance(job, dict):
        return None
    names = [x.get("file_name") for key in ("images", "errors") for x in doc.get(key) or [] if isinstance(x, dict)]
    errors, images = doc.get("errors") or [], doc.get("images") or []
    return {"job": job, "model": doc.get("model"), "settings": job.get("settings"),
            "input_names": names if len(names) == job.get("inputs") else None,
            "none_used": len(errors) if errors and not images else 0,  # every input failed: that run exited 1
            "output": boxes_json.output_entry("json")}


def _differences(finished: dict, header: dict, output_changed: str | None) -> list[str]:
    """What makes a finished output another job's than this run's (``header``), in words: the inputs, model or
    settings, shard (:func:`_changed`), the output's form (``output_changed``: :func:`_output_changed`), shards a
    partial merge lacks."""
    out = [c for key in ("inputs_sha256", "config_sha256", "shard")
           if finished["job"].get(key) != header["job"].get(key) for c in [_changed(finished, header, key)] if c]
    if output_changed:
        out.append(output_changed)
    missing = finished["job"].get("missing_shards")
    if isinstance(missing, list) and missing:
        out.append(f"a merge without shard{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}")
    return out


def _output_changed(finished: dict, now: dict) -> str | None:
    """How the output a finished job was written in (``finished["output"]``,
    :func:`detector.data.boxes_json.output_entry`: a ``coco`` / ``ilsvrc`` job record's, or ``json`` for a
    boxes.json) differs from the one this run writes (``now``), in words, else None: another ``--format`` (a COCO
    results list is no ILSVRC text), another or no ``--coco-gt`` (the results' ids are another numbering) — trial
    44: either was kept as "this job's finished output"."""
    then = finished.get("output")
    if not isinstance(then, dict):
        return "its job record does not say its format (an older version's)"
    if then.get("format") != now["format"]:
        return f"--format {now['format']} now, {then.get('format')} in that run"
    gt_then, gt_now = then.get("coco_gt") or None, now["coco_gt"]
    if (gt_then or {}).get("ids_sha256") != (gt_now or {}).get("ids_sha256"):
        def name(gt):
            return f"--coco-gt {gt.get('file')}" if gt else "no --coco-gt"
        return f"{name(gt_now)} now, {name(gt_then)} in that run"
    return None


def _same_job(job: dict, now: dict) -> bool:
    """Whether two job entries are one job: same inputs, model and settings, shard (``--resume`` of a finished one
    has nothing to do: a requeued batch job). A merge of some shards alone (``detect merge --allow-partial``:
    ``missing_shards``) is not the whole job's output (trial 44: it was kept as finished)."""
    return all(job.get(k) == now.get(k) for k in ("inputs_sha256", "config_sha256", "shard")) and \
        not job.get("missing_shards")


def _torn_header(part: Path) -> bool:
    """Whether ``part`` holds no whole line: a run killed (or a machine that lost power) while the header was being
    written, before any image was done."""
    try:
        with open(part, "rb") as f:
            while chunk := f.read(1 << 16):
                if b"\n" in chunk:
                    return False
            return True
    except OSError:
        return False


def _resumed(part: Path, header: dict, resume: bool, tasks: int, model_given: bool = True,
             stamps: dict[int, dict | None] | None = None) -> dict[int, dict]:
    """The records already in ``part`` (with ``--resume``, from the same job), or none for a fresh start.
    ``model_given``: this run has a ``--model`` (without, a refusal's hint (:func:`_preset_hint`) looks at the
    presets' own bundled models). ``stamps``: each input's :func:`detector.data.images.file_stamp` now, by input
    position; a record whose image was replaced or changed since it was written (another stamp, or none now) is left
    out, so that the image runs again, and a note names them (a record of an older version, which kept no stamp,
    is kept: it cannot tell)."""
    if not part.exists() or part.stat().st_size == 0 or _torn_header(part):
        torn = part.exists()  # empty, or killed while writing its header: no image was done (as a header alone)
        if torn:
            part.unlink()  # held by this run's lock
        if resume:
            why = "holds no finished image" if torn else "does not exist"
            click.echo(f"nothing to resume ({part} {why}): starting from the first image", err=True)
        return {}
    try:
        old_header, done = read_part(part)
    except PartError as e:
        old_header, done, error = None, {}, e
    else:
        error = None
        if not done:  # stopped before its first image (Ctrl-C while it started): nothing to keep, start afresh
            part.unlink()  # held by this run's lock
            return {}
    if not resume:
        raise click.ClickException(
            f"{part} holds the results of an interrupted run: add --resume to go on with it, or delete it to "
            "start over")
    if error is not None:
        raise click.ClickException(f"cannot resume: {error} (delete it to start over)") from None
    old_job = old_header.get("job") if isinstance(old_header.get("job"), dict) else {}
    for key, what in (("inputs_sha256", "the input images differ"), ("config_sha256", "the model or settings differ"),
                      ("shard", "the shard differs")):
        if old_job.get(key) != header["job"].get(key):
            changed = _changed(old_header, header, key)
            which = f": {changed}" if changed else ""
            hint = _preset_hint(old_header.get("settings"), header.get("settings"),
                                (old_header.get("model") or {}).get("files"),
                                None if model_given else _preset_models(), (header.get("model") or {}).get("files")) \
                if key == "config_sha256" else ""
            raise click.ClickException(f"cannot resume from {part}: {what} from that run's{which} (delete it to "
                                       f"start over){hint}")
    changed = [k for k, r in sorted(done.items()) if _replaced(r, (stamps or {}).get(k))] if stamps is not None \
        else []
    names = [_record_name(done.pop(k)) for k in changed]
    click.echo(f"resuming: {len(done)} of {count(tasks, 'image')} already done ({part})", err=True)
    if names:  # trial 61: a replaced image kept its old detections without a word
        click.echo(f"resuming: {count(len(names), 'image')} changed since {'its' if len(names) == 1 else 'their'} "
                   f"record{'' if len(names) == 1 else 's'} in the part file {'was' if len(names) == 1 else 'were'} "
                   f"written (another size or modification time), run again: {', '.join(names[:5])}"
                   + (f" and {len(names) - 5} more" if len(names) > 5 else ""), err=True)
    return done


def _replaced(record: dict, stamp: dict | None) -> bool:
    """Whether the input of a part-file ``record`` is no longer the file it was run on: its ``file`` stamp
    (:func:`detector.data.images.file_stamp`, as that run found the file) differs from ``stamp`` (now; None: gone or
    unreadable). An input that could not be stat'ed then (``"file": null``: gone, a broken link) and can be now
    was put in place since, and runs again (trial 66: a broken link fixed before --resume kept its error, "broken
    symbolic link", though the image was there). False for a record without a stamp (an older version's): nothing
    to tell by."""
    if "file" in record and record["file"] is None:
        return stamp is not None
    then = record.get("file")
    if not isinstance(then, dict):
        return False
    return stamp is None or any(then.get(k) != stamp[k] for k in ("size", "mtime_ns"))


def _record_name(record: dict) -> str:
    """The ``file_name`` of a part-file record (an image's, or an input's that failed)."""
    return str((record.get("image") or record.get("error") or {}).get("file_name", "?"))


def _stamped(record: dict, stamps: dict[int, dict | None]) -> dict:
    """``record`` with its input's file stamp (``stamps``, by input position) as ``file``; ``null`` for an input
    that could not be stat'ed (gone, a broken link), so that a resume tells the file put there since."""
    index = record.get("index")
    return {**record, "file": stamps[index]} if index in stamps else record


def _stamped_all(records: Iterable, stamps: dict[int, dict | None]) -> Iterator:
    """An engine's ``(record, timings)`` with each record stamped (:func:`_stamped`); closing it closes the
    engine's generator (which stops its worker processes or Ray)."""
    try:
        for record, timings in records:
            yield _stamped(record, stamps), timings
    finally:
        if hasattr(records, "close"):
            records.close()


# PRESETS' options as job settings name them (RunConfig.result_settings)
_PRESET_SETTINGS = {"method": "proposals", "ss_mode": "ss_mode", "ss_resize_width": "ss_resize_width",
                    "multibox_top": "multibox_top", "refine": "refine"}


def _preset_models() -> dict[str, list[str]]:
    """The member files (as a job's ``model.files`` names them) of each preset's own bundled model, which the
    preset runs when no ``--model`` is given; a preset whose model is not installed is left out."""
    models = {}
    for name, values in PRESETS.items():
        if values.get("bundled_model"):
            try:
                models[name] = [str(f) for f in default_model_paths(values["bundled_model"])]
            except (click.ClickException, CheckpointError):
                pass
    return models


def _same_files(recorded, files) -> bool:
    """Whether the member files a job recorded (as that run named them: ``--model detector/models/fast`` records a
    relative path) are ``files``: the same paths once resolved, or the same files (trial 19: a run given the fast
    preset's own model by a relative path was told it had "another model than the preset's")."""
    recorded, files = [str(f) for f in recorded], [str(f) for f in files]
    if len(recorded) != len(files):
        return False

    def same(a, b):
        if a == b or os.path.realpath(a) == os.path.realpath(b):
            return True
        try:
            return os.path.samefile(a, b)
        except OSError:
            return False
    return all(same(a, b) for a, b in zip(recorded, files))


def _preset_hint(before, now, before_files=None, preset_models: dict | None = None, now_files=None) -> str:
    """For a refused ``--resume``: `` — that run had --preset P's settings: add --preset P`` when the settings of
    that run (``before``, a job's ``settings``) hold a preset's values for every one of its settings they record
    (two at least) and those of this one (``now``) do not (trial 15: a resume without the preset the run had listed
    five differences and no way out); `` — that run had --preset P's model: add --preset P`` when the settings agree
    but that run's member files (``before_files``) were a preset's own model (``preset_models``: given only when
    this run has no ``--model``) and this run's (``now_files``) are not; else ""."""
    if not isinstance(before, dict) or not isinstance(now, dict):
        return ""
    for name, values in PRESETS.items():
        # a setting a job leaves out (unused by its model or proposals: detector.engines.job_settings) tells nothing
        wanted = {_PRESET_SETTINGS[k]: v for k, v in values.items() if k in _PRESET_SETTINGS and
                  _PRESET_SETTINGS[k] in before}
        if len(wanted) >= 2 and all(before[k] == v for k, v in wanted.items()) and \
                not all(now.get(k) == v for k, v in wanted.items()):
            model = (preset_models or {}).get(name)
            if model is None or before_files is None or _same_files(before_files, model):
                return f" — that run had --preset {name}'s settings: add --preset {name}"
            # trial 18: that run had the preset's settings as options, with another model than the preset's own
            # (without --model, the preset would change the model too: following the hint was refused again)
            options = " ".join(option_flag(k, value=v) for k, v in sorted(wanted.items()) if now.get(k) != v)
            return f" — that run had --preset {name}'s settings with another model than the preset's: add {options}"
    for name, model in (preset_models or {}).items():  # trial 19: the preset's options typed out, the model forgotten
        if before_files is not None and _same_files(before_files, model) and \
                not (now_files is not None and _same_files(now_files, model)):  # trial 36: said to a run with it
            return f" — that run had --preset {name}'s model: add --preset {name}"
    return ""


def _changed(before: dict, now: dict, key: str = "config_sha256") -> str:
    """What differs between part-file headers ``before`` and ``now`` in the part of the job that ``key`` of its
    ``job`` identifies: ``config_sha256``, the model and settings (:func:`detector.data.boxes_json.differences`:
    member files — ``--model``, or ``--mode`` choosing among an ensemble's members —, the MultiBox file, then
    settings); ``inputs_sha256``, the inputs (:func:`detector.data.boxes_json.inputs_differences`: their counts and
    the first image added or gone); ``shard``. "" when nothing can be told (a part file written before headers
    kept them)."""
    labels = ("now", "in that run")
    if key == "shard":
        return (f"shard: {boxes_json.shard_name(now['job'].get('shard'))} now, "
                f"{boxes_json.shard_name((before.get('job') or {}).get('shard'))} in that run")
    if key == "inputs_sha256":
        def inputs(h: dict) -> dict:
            return {"inputs": (h.get("job") or {}).get("inputs"), "names": h.get("input_names")}

        return boxes_json.inputs_differences(inputs(before), inputs(now), labels=labels)

    return boxes_json.differences(boxes_json.job_summary(before.get("model"), before.get("settings")),
                                  boxes_json.job_summary(now.get("model"), now.get("settings")), labels=labels,
                                  shown=shown_setting, unused=setting_unused, named=option_flag)


def _draw_finished(out: Path, out_format: str, inputs, draw: DrawConfig) -> None:
    """``--resume --draw`` of this job's finished boxes.json: the images whose picture is not in the draw folder
    drawn from the detections it records, as a resumed part file's are (:func:`_redrawn`; trial 46: nothing was
    drawn, without a word), and all of them drawn again when its ``drawing`` says they were drawn at another
    ``--draw-threshold`` (trial 61: the old pictures were kept without a word) — the output's ``drawing`` then
    says the new one (the file rewritten, atomically, its detections unchanged). A COCO results list or ILSVRC text
    keeps no image sizes or names to draw from: a note."""
    folder = Path(draw.folder)
    if out_format != "json":
        click.echo(f"note: --draw {folder}: nothing drawn ({out} is --format {out_format}, which keeps no record "
                   f"to draw from; delete it to run the job again with --draw)", err=True)
        return
    doc = boxes_json.read_document(out)
    by_image: dict = {}
    for d in doc["detections"]:
        by_image.setdefault(d["image_id"], []).append(d)
    then = doc["drawing"].get("threshold") if isinstance(doc.get("drawing"), dict) else None
    missing, there = [], []  # one stat a picture (a folder of 10,000 was stat'ed twice)
    for im in doc["images"]:
        (there if (folder / im["file_name"]).is_file() else missing).append(im)
    again = there if then is not None and then != draw.threshold else []
    unknown = there if then is None else []
    if missing:
        click.echo(f"drawing {count(len(missing), 'image')} of {out} whose picture is not in {folder}", err=True)
    if again:
        its, was = ("its picture", "was") if len(again) == 1 else ("their pictures", "were")
        click.echo(f"drawing {count(len(again), 'image')} of {out} again: {its} in {folder} {was} drawn at "
                   f"--draw-threshold {then:g}, {draw.threshold:g} now", err=True)
    _kept_pictures_note(folder, len(unknown), f"{out} does not say", draw.threshold)
    failed = False
    todo = {im["id"] for im in missing + again}
    for im in doc["images"]:
        if im["id"] not in todo:
            continue
        k = im["id"] - 1  # ids are input positions + 1: the same inputs, this being the same job
        record = redraw({"index": k, "image": im, "detections": by_image.get(im["id"], [])}, inputs[k].path, draw,
                        doc["categories"])
        if "drawing_error" in record:
            failed = True
            click.echo(f"warning: {im['file_name']}: {record['drawing_error']}", err=True)
    if not todo:
        return
    drawing = {"threshold": draw.threshold} if not failed and not unknown else None
    if doc.get("drawing") != drawing:  # what the pictures in the folder are now
        doc = {k: v for k, v in doc.items() if k != "drawing"}
        if drawing is not None:
            doc["drawing"] = drawing
        try:
            boxes_json.write(out, doc)
        except OSError as e:
            click.echo(f"warning: cannot record the pictures' --draw-threshold in {out}: {e.strerror or e}", err=True)


def _kept_pictures_note(folder: Path, n: int, whose: str, threshold: float) -> None:
    """The note on ``n`` pictures already in the draw folder that are kept: ``whose`` (the part file, the output)
    does not say at which ``--draw-threshold`` they were drawn (an older version's, or a run without ``--draw``)."""
    if n:
        click.echo(f"note: --draw {folder}: {count(n, 'picture')} already there {'is' if n == 1 else 'are'} kept: "
                   f"{whose} at which --draw-threshold {'it was' if n == 1 else 'they were'} drawn (written by an "
                   f"older version, or by a run without --draw); delete {'it' if n == 1 else 'them'} to have "
                   f"{'it' if n == 1 else 'them'} drawn at {threshold:g}", err=True)


def _redrawn(done: dict[int, dict], inputs, draw: DrawConfig | None, categories: list[dict]) -> Iterator[dict]:
    """With ``--resume`` and ``--draw``: the records taken from the part file (``done``) that have no picture in the
    draw folder, whose drawing failed, or whose picture was drawn at another ``--draw-threshold`` (their
    ``draw_threshold``; trial 61: kept without a word), each drawn from its detections as the iterator is consumed
    (:func:`detector.engines.redraw`). A picture there whose record does not say its threshold is kept, with a
    note."""
    if draw is None:
        return iter(())
    folder = Path(draw.folder)
    missing, again, unknown = [], [], []
    for k, r in sorted(done.items()):
        if "image" not in r:
            continue
        if "drawing_error" in r or not (folder / r["image"]["file_name"]).is_file():
            missing.append(k)
        elif "draw_threshold" not in r:
            unknown.append(k)
        elif r["draw_threshold"] != draw.threshold:
            again.append(k)
    if missing:
        click.echo(f"resuming: drawing {count(len(missing), 'image')} from the part file whose picture is not in "
                   f"{folder}", err=True)
    if again:
        then = ", ".join(f"{t:g}" for t in sorted({done[k]["draw_threshold"] for k in again}))
        its, was = ("its picture", "was") if len(again) == 1 else ("their pictures", "were")
        click.echo(f"resuming: drawing {count(len(again), 'image')} from the part file again: {its} in {folder} "
                   f"{was} drawn at --draw-threshold {then} in that run, {draw.threshold:g} now", err=True)
    _kept_pictures_note(folder, len(unknown), "the part file does not say", draw.threshold)
    return (redraw(done[k], inputs[k].path, draw, categories) for k in sorted(missing + again))


def _stream_to_part(part: Path, header: dict, known_bad: list[dict], stream, *, total: int, done: int,
                    kept: int, redrawn: Iterable[dict] = ()) -> dict:
    """Append the records taken from the part file and drawn again (``redrawn``: they replace the old ones), those
    of inputs known to be bad, then the engine's (``stream()``), to the part file as they come; returns the summed
    timings and, under ``"no_regions"``, the image entries of the images run now that had no region proposal.
    SIGTERM, Ctrl-C or an error stop it at once, keeping the part file (the selective-search workers or Ray are
    stopped); SIGTERM then exits with status 143."""
    totals = {"proposals": 0.0, "classify": 0.0, "nms": 0.0, "regions": 0}
    no_regions: list[dict] = []  # the image entries of those that had no region to classify
    try:
        writer = PartWriter(part, header)
    except OSError as e:
        raise click.ClickException(f"cannot write {part}: {e.strerror or e}") from None
    interrupted, terminated, written = True, False, 0
    records = bar = None
    try:
        with sigterm_stops():
            for record in redrawn:
                writer.write(record)
            for record in known_bad:
                writer.write(record)
                written += 1
            records = stream()
            bar = tqdm(records, total=total, initial=done, unit="img", desc="detect", disable=None)
            for record, timings in bar:
                _write_record(writer, record)
                written += 1
                for k in totals:
                    totals[k] += timings.get(k, 0)
                if "image" in record:
                    bar.set_postfix(dets=len(record["detections"]), props=timings.get("regions", 0))
                    if timings.get("regions", 1) == 0:  # trial 17: a 1-pixel-thick image gave nothing, unsaid
                        no_regions.append(record["image"])
            interrupted = False
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    except Terminated:
        terminated = True
    except OSError as e:
        where = f"{e.filename}: " if e.filename is not None else ""
        raise click.ClickException(f"stopped by an I/O error: {where}{e.strerror or e}") from None
    finally:
        if bar is not None:
            bar.close()
        if records is not None and hasattr(records, "close"):
            records.close()  # stops the selective-search workers (or Ray) at once
        try:
            writer.close()
        except OSError:
            if not interrupted:
                raise
            # the write that stopped the run failed again: its error is the one said (trial 32: this one hid it)
        if interrupted and kept + written == 0:  # nothing done: nothing to keep or to resume
            part.unlink(missing_ok=True)
            click.echo(f"stopped{' (SIGTERM)' if terminated else ''} before the first image was done", err=True)
        elif interrupted:
            click.echo(f"stopped{' (SIGTERM)' if terminated else ''}: {count(kept + written, 'image')} done so "
                       f"far, kept in {part}; to go on, run the same command again with --resume", err=True)
    if terminated:
        raise SystemExit(128 + signal.SIGTERM)
    return {**totals, "no_regions": no_regions}


def _write_record(writer: PartWriter, record: dict) -> None:
    """Append one record; a record that is not JSON (a NaN score, say) is written as that image's error instead —
    writing one image's record never ends a job."""
    try:
        writer.write(record)
    except (ValueError, TypeError) as e:
        logger.warning("cannot write the record of input %s: %s: %s", record.get("index"), type(e).__name__, e,
                       exc_info=logger.isEnabledFor(logging.DEBUG))  # the trace with -vv
        name = (record.get("image") or record.get("error") or {}).get("file_name", "?")
        writer.write(boxes_json.error_record(record["index"], name,
                                             f"writing its record failed: {type(e).__name__}: {e}"))


def _report(doc: dict, out: Path, where: str, seconds: float, n_todo: int, engine: str, totals: dict, members,
            draw_dir, detections: str, resumed: bool = False, draw_threshold: float = DrawConfig.threshold) -> None:
    """``detections``: what was written (:func:`detector.data.boxes_json.written_count`); ``members``: those that
    ran, named with their modes (``--mode`` may have chosen some of an ensemble's: user trial); ``resumed``: some
    records came from the part file (the time is then that of the inputs run now)."""
    ran = ", ".join(f"{m.path.name if m.path else 'member'} {m.spec.mode}" for m in members)
    n, errors, not_drawn = len(doc["images"]), doc["errors"], doc.get("drawing_errors", [])
    inputs = f" ({count(n + len(errors), 'input')})" if errors else ""
    if resumed:
        ran_now = f"the {count(n_todo, 'input')} run now"
    else:  # inputs that failed count as inputs, not images
        ran_now = count(n_todo, "image") if n_todo == n else count(n_todo, "input")
        listed_out = n + len(errors) - n_todo  # a broken link or an unreadable folder entry: an error before any run
        if listed_out:
            ran_now = (f"the {ran_now}" if n_todo else "no input") + f" run ({listed_out} refused while listing)"
    per = "inputs" if errors else "images"  # inputs that failed are no images (trial 19: all failing, "2.63 images/s")
    click.echo(f"{count(n, 'image')}, {detections}, {count(len(errors), 'error')}{inputs} → {out}{where}\n"
               f"{seconds:.1f} s for {ran_now} ({n_todo / max(seconds, 1e-9):.2f} {per}/s, engine "
               f"{engine}); proposals {totals['proposals']:.1f} s, classify {totals['classify']:.1f} s, nms "
               f"{totals['nms']:.2f} s summed over images; {count(len(members), 'member')} ({ran})")
    if empty := totals.get("no_regions"):
        shown = ", ".join(f"{e['file_name']} ({e['width']}x{e['height']})" for e in empty[:3])
        click.echo(f"note: {count(len(empty), 'image')} had no region proposal, so nothing could be detected on "
                   f"{'them' if len(empty) > 1 else 'it'}: {shown}{', …' if len(empty) > 3 else ''} (an image a "
                   "pixel or two thick, or one the proposal method finds no region in)", err=True)
    for e in errors[:10]:
        click.echo(f"  skipped {e['file_name']}: {e['error']}", err=True)
    if len(errors) > 10:
        click.echo(f"  … and {len(errors) - 10} more (see 'errors' in {out})", err=True)
    if draw_dir is not None:
        # a picture with no detection at --draw-threshold is a plain copy of the image: say so (trial 51)
        shown = {d["image_id"] for d in doc["detections"] if d["score"] >= draw_threshold}
        failed = {e["file_name"] for e in not_drawn}
        pictures = [im for im in doc["images"] if im["file_name"] not in failed]
        bare = sum(im["id"] not in shown for im in pictures)
        click.echo(f"drawings in {draw_dir} (boxes scoring at least {draw_threshold:g}, --draw-threshold)"
                   + (f"; {bare} of {count(len(pictures), 'picture')} show no box: no detection on "
                      f"{'them' if bare > 1 else 'it'} scored that much (every detection is in {out})" if bare else "")
                   + (f"; {count(len(not_drawn), 'image')} not drawn (their detections are in {out})"
                      if not_drawn else ""))
    for e in not_drawn[:10]:
        click.echo(f"  not drawn {e['file_name']}: {e['error']}", err=True)
    if len(not_drawn) > 10:
        click.echo(f"  … and {len(not_drawn) - 10} more (see 'drawing_errors' in {out})", err=True)
