"""``detect run``: detect objects in images and write ``boxes.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import torch
from tqdm import tqdm

from detector.classifier import CheckpointError, load_ensemble
from detector.data.images import ImageError, list_images
from detector.data.io import atomic_write_json, atomic_write_text
from detector.data.output import boxes_json, detection_entries, image_entry, to_coco_results, to_ilsvrc_text
from detector.pipeline import Detector, PostprocessConfig, resolve_device
from proposals.cache import ProposalCache
from proposals.merge import MergeConfig
from proposals.selective_search import SelectiveSearchConfig

from .sources import ProposalSource, load_multibox_or_fail

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
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Regions per CNN batch (bounds memory).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes for selective search (default: all cores; 0 = in this process).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Proposal cache (default: $DETECT_CACHE_DIR or ~/.cache/detect/proposals).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the proposal cache.")
@click.option("--draw", "draw_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write each image with its labelled boxes into this folder.")
@click.option("--draw-threshold", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Only detections scoring at least this are drawn (all above --score-threshold are written).")
@click.option("--format", "out_format", type=click.Choice(["json", "coco", "ilsvrc"]), default="json",
              show_default=True,
              help="json: boxes.json (DESIGN.md); coco: a COCO results list; ilsvrc: ILSVRC submission text "
                   "(image index = the image's id, its position in the input, from 1).")
def run_cmd(images, out, models, method, multibox_path, ss_mode, ss_scale, max_proposals, score_threshold, nms_iou,
            max_detections, device, batch_size, workers, cache_dir, no_cache, draw_dir, draw_threshold, out_format):
    """Detect objects in IMAGES: a folder (searched recursively for jpg/jpeg/png/bmp/webp), one image, or a text
    file listing image paths. Unreadable images are recorded under "errors" and skipped."""
    try:
        paths = list_images(images)
        dev = resolve_device(device)
    except (ImageError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    try:
        members = load_ensemble(list(models) or default_model_paths(), device=dev)
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    classes = members[0].classes
    ss_config = SelectiveSearchConfig(mode=ss_mode, scale=ss_scale)
    cache = None if no_cache else ProposalCache(cache_dir)
    multibox = load_multibox_or_fail(multibox_path, dev) if method != "ss" else None
    source = ProposalSource(method, ss_config, MergeConfig(max_proposals=max_proposals), multibox, workers, cache,
                            dev)
    post = PostprocessConfig(nms_iou=nms_iou, score_threshold=score_threshold, max_detections=max_detections)
    detector = Detector(None, members, post, batch_size=batch_size,
                        max_proposals=max_proposals, device=dev)
    names = {k + 1: c.name for k, c in enumerate(classes)}
    root = images if images.is_dir() else None

    out_images, detections, errors = [], [], []
    totals = {"proposals": 0.0, "classify": 0.0, "nms": 0.0}
    t0 = time.perf_counter()
    bar = tqdm(source.run(paths), total=len(paths), unit="img", desc="detect", disable=None)
    for image_id, (path, image, boxes, _, prop_seconds, error) in enumerate(bar, start=1):
        name = str(path.relative_to(root)) if root is not None else path.name
        if error is not None:
            errors.append({"file_name": name, "error": _short_error(error, path)})
            continue
        det = detector.detect(image, proposals=boxes)
        det.timings["proposals"] = prop_seconds
        for k in totals:
            totals[k] += det.timings.get(k, 0.0)
        h, w = image.shape[:2]
        out_images.append(image_entry(image_id, name, w, h))
        detections.extend(detection_entries(image_id, det.boxes, det.scores, det.labels, classes))
        bar.set_postfix(dets=len(det), props=det.num_proposals)
        if draw_dir is not None:
            from detector.draw import draw_detections

            target = draw_dir / Path(name).with_suffix(".jpg")
            target.parent.mkdir(parents=True, exist_ok=True)
            shown = det.scores >= draw_threshold
            draw_detections(image, det.boxes[shown], det.scores[shown], det.labels[shown], names).save(target,
                                                                                                      quality=90)
    seconds = time.perf_counter() - t0

    model_info = {"name": members[0].train.get("name") or (members[0].path.parent.name if members[0].path else ""),
                  "classes": len(classes), "members": len(members), "files": [str(m.path) for m in members],
                  "proposals": method, "selective_search": {"mode": ss_mode, "scale": ss_scale},
                  "max_proposals": max_proposals, "device": str(dev)}
    doc = boxes_json(model_info, out_images, classes, detections, errors)
    if out_format == "json":
        atomic_write_json(out, doc)
    elif out_format == "coco":
        atomic_write_text(out, json.dumps(to_coco_results(doc)))
    else:
        atomic_write_text(out, to_ilsvrc_text(doc))
    n = len(out_images)
    click.echo(f"{n} images, {len(detections)} detections, {len(errors)} errors → {out} "
               f"({seconds:.1f} s, {seconds / max(n, 1):.2f} s/image; classify {totals['classify']:.1f} s, "
               f"nms {totals['nms']:.2f} s; {len(members)} member(s) on {dev}, torch threads "
               f"{torch.get_num_threads()})")
    for e in errors[:10]:
        click.echo(f"  skipped {e['file_name']}: {e['error']}", err=True)
    if len(errors) > 10:
        click.echo(f"  … and {len(errors) - 10} more (see 'errors' in {out})", err=True)
    if draw_dir is not None:
        click.echo(f"drawings in {draw_dir}")


def _short_error(message: str, path: Path) -> str:
    """Drop the file name and exception class from a message (boxes.json names the file itself)."""
    message = message.replace(f"{path}: ", "")
    if ": " in message and message.split(": ", 1)[0].isidentifier():
        head, rest = message.split(": ", 1)
        if head.endswith("Error") or head.endswith("Exception"):
            message = rest
    return message
