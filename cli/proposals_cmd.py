"""``detect proposals``: region proposals per image, and how well they cover the ground truth."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from detector.data.images import ImageError, scan_images
from detector.data.io import atomic_write_json, file_sha256
from detector.nn.device import resolve_device
from detector.nn.options import option_flag
from proposals.cache import ProposalCache
from proposals.merge import MAX_MULTIBOX_TOP
from proposals.proposers import (PROPOSERS, ProposalConfig, build_proposer, load_proposal_multibox, proposal_config,
                                 propose_many)
from detector.data.names import AmbiguousImageName, ImageNameIndex
from detector.engines import unused_proposal_options
from proposals.recall import mean_best_overlap, recall_at

from .common import OutFile, cache_options, count, device_option, format_option, load_dataset, multibox_option, \
    dataset_files, note_duplicates, refuse_binary_outputs, refuse_replacing_inputs, refuse_replacing_others, \
    selective_search_options, warn_multibox_top

TOP_NS = (100, 300, 1000, 2000, None)


def _spell(key: str, value=None) -> str:
    """An option as this command writes it (:func:`detector.engines.unused_proposal_options`): ``--method ss``."""
    return option_flag(key, {"multibox_path": "--multibox"}, value)


@click.command("proposals")
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=OutFile("proposals.json"), default="proposals.json",
              show_default=True, help="Per-image boxes (xyxy) of the last --method (an existing file that is not "
                                      "such an output is never replaced).")
@click.option("--method", "methods", multiple=True, type=click.Choice(PROPOSERS),
              help=f"ss, multibox or both (merged); repeat to compare. Default: {ProposalConfig.method}.")
@click.option("--max-proposals", type=click.IntRange(min=1), default=ProposalConfig.merge.max_proposals,
              show_default=True, help="Boxes kept per image, in the method's order: what `detect run "
                                                   "--max-proposals` scores (both: the merged set's cap).")
@click.option("--multibox-top", type=click.IntRange(1, MAX_MULTIBOX_TOP), default=ProposalConfig.merge.multibox_top,
              show_default=True, help="MultiBox boxes kept (the paper: 200).")
@multibox_option
@selective_search_options
@click.option("--gt", "gt_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Ground truth: print recall at IoU 0.5/0.7 for N in 100/300/1000/2000/all, and MABO.")
@format_option
@click.option("--json", "json_out", type=OutFile("recall.json"), default=None,
              help="Write the measurements as JSON.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Selective search processes (default: all cores).")
@cache_options
@device_option
@click.pass_context
def proposals_cmd(ctx, images, out, methods, gt_path, fmt, json_out, workers, cache_dir, no_cache, device, **options):
    """Region proposals for IMAGES (a folder, an image, or a list file) by selective search, MultiBox, or both."""
    methods = tuple(dict.fromkeys(methods)) or (ProposalConfig.method,)  # each once, in the order given
    given = {k for k in ("multibox_top", "ss_mode", "ss_scale", "ss_resize_width")
             if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
    given |= {"multibox_path"} if options["multibox_path"] is not None else set()
    unused = unused_proposal_options(given, methods, _spell, verb="add")  # as detect run refuses them
    if unused:
        raise click.UsageError(unused[0])
    duplicates: list[tuple[str, str]] = []
    try:
        inputs = scan_images(images, duplicates)
        note_duplicates(images, duplicates)
        dev = resolve_device(device)
        configs = [proposal_config(options, m) for m in methods]
    except (ImageError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    refuse_replacing_inputs({"--out": out, "--json": json_out}, [images, gt_path, *(i.path for i in inputs)])
    refuse_replacing_others("--out", out, ("proposals",))
    gt = load_dataset(gt_path, fmt) if gt_path else None
    if gt is not None:
        refuse_replacing_inputs({"--out": out, "--json": json_out}, dataset_files(gt))
    refuse_binary_outputs({"--json": json_out})  # after the checks naming an input (--out: refused above)
    gt_index = ImageNameIndex([im.file_name for im in gt.images]) if gt else None
    if gt is not None:  # recall over no image would be NaN: say which images are measured, before any work
        try:
            hits = [h for h in (gt_index.match(i.name) for i in inputs if i.problem is None) if h is not None]
        except AmbiguousImageName as e:
            raise click.ClickException(str(e)) from None
        matched = len(hits)
        readable = sum(i.problem is None for i in inputs)
        if readable and not matched:
            raise click.ClickException(
                f"none of the {count(readable, 'input image')} is an image of {gt.source} (e.g. "
                f"{next(i.name for i in inputs if i.problem is None)!r}; it has "
                f"{', '.join(repr(im.file_name) for im in gt.images[:3])}{', …' if len(gt.images) > 3 else ''}): "
                "there is no recall to measure")
        if matched and not any(gt.images[h[0]].counted.any() for h in hits):  # trial 47: a table of nan
            raise click.ClickException(
                f"{gt.source} has no ground-truth box (crowd regions and difficult objects aside) on the "
                f"{count(matched, 'input image')} it annotates: there is no recall to measure")
        if matched < readable:
            click.echo(f"note: {readable - matched} of the {count(readable, 'input image')} are not in {gt.source}: "
                       f"recall is measured on the other {matched}", err=True)
    try:  # one MultiBox network for every method that uses it
        multibox = load_proposal_multibox(configs[0].multibox, dev) if any(
            PROPOSERS[m].uses_multibox for m in methods) else None
    except ValueError as e:  # CheckpointError: a missing or unusable file, named
        raise click.ClickException(str(e)) from None
    if ctx.get_parameter_source("multibox_top") != click.core.ParameterSource.DEFAULT:
        warn_multibox_top(configs[0].merge.multibox_top, multibox,
                          next((c.multibox_path for c in configs if c.multibox_path is not None), None))
    cache = None if no_cache else ProposalCache(cache_dir)
    paths = [i.path for i in inputs if i.problem is None]
    name_of = {i.path: i.name for i in inputs}
    known_bad = [{"file_name": i.name, "error": i.problem} for i in inputs if i.problem is not None]
    report = {}
    last_doc = None
    for method, config in zip(methods, configs):
        proposed = propose_many(build_proposer(config, dev, multibox=multibox), paths, workers=workers, cache=cache)
        m, last_doc = _measure(method, tqdm(proposed, total=len(paths), desc=method, unit="img", disable=None),
                               name_of, known_bad, gt, gt_index, cap=config.max_proposals)
        examples = m.pop("_rescaled", [])
        if examples and len(report) == 0:  # trial 22: the ground truth was scaled to resized images without a word
            click.echo(f"note: {count(m['gt_rescaled_images'], 'image')} not the size {gt.source} gives (e.g. "
                       f"{'; '.join(examples)}): its boxes are scaled to the image, as for a resized copy "
                       "(detect eval refuses such a pair)", err=True)
        last_doc["settings"] = _settings(config)
        report[method] = m
        if m["cached_images"]:  # trial 47: 0.001 s/img beside 1.5 s/img for the same images, without a word
            click.echo(f"note: {method}: the selective search of {m['cached_images']} of the "
                       f"{count(m['images'], 'image')} came from the cache: its seconds per image leave that search "
                       "out (--no-cache to time it)", err=True)
        if gt is not None and m["mabo"] is None and len(report) == 1:
            click.echo(f"note: no ground-truth box of {gt.source} is on an image that could be read (those that "
                       "could not are listed under 'errors' in --out): recall has no value", err=True)
        for e in last_doc["errors"][:5]:
            said = e["error"] if e["file_name"] in e["error"] else f"{e['file_name']}: {e['error']}"  # named once
            click.echo(f"  skipped {said}", err=True)
    atomic_write_json(out, last_doc, indent=None)
    _print_table(report, gt is not None)
    click.echo(f"wrote {out} ({methods[-1]})")
    if json_out:
        atomic_write_json(json_out, {"methods": report})
        click.echo(f"wrote {json_out}")
    if not last_doc["images"] and last_doc["errors"]:  # as detect run (trial 47: a row of 0.0 and exit status 0)
        n = len(last_doc["errors"])
        raise click.ClickException(f"no input could be used: {count(n, 'input')} failed, listed under 'errors' in "
                                   f"{out} with {'its reason' if n == 1 else 'their reasons'}")


def _settings(config) -> dict:
    """The settings that made a method's boxes (``--out``'s ``settings``): selective search's where it ran, the MultiBox
    network (its file and SHA-256) and its top-k where it ran, and the cap."""
    out = {"max_proposals": config.max_proposals}
    if config.method != "multibox":
        ss = config.selective_search
        out.update(ss_mode=ss.mode, ss_scale=ss.scale, ss_resize_width=ss.resize_width)
    mb = config.multibox_path
    if mb is not None:
        out.update(multibox={"file": str(mb), "sha256": file_sha256(mb)}, multibox_top=config.merge.multibox_top)
    return out


def _measure(method: str, proposed, name_of: dict, known_bad: list, gt, gt_index, cap: int | None = None
             ) -> tuple[dict, dict]:
    """One method's measurements (and recall against ``gt`` when given) and its document of boxes per image.
    Images are matched to ``gt`` by name as `detect eval` matches them (:mod:`detector.data.names`). ``cap``: the
    first boxes kept (``--max-proposals``: what `detect run` scores of any method's boxes, in their order)."""
    entries, gts, props, errors, secs, rescaled = [], [], [], list(known_bad), [], []
    cached = 0
    for path, image, boxes, scores, s, err, *more in proposed:  # more: Proposed.cached
        name = name_of[path]
        if err is not None:
            errors.append({"file_name": name, "error": err})
            continue
        boxes, scores = boxes[:cap], (None if scores is None else scores[:cap])
        e = {"file_name": name, "width": int(image.shape[1]), "height": int(image.shape[0]),
             "boxes": np.round(np.asarray(boxes, np.float64), 1).tolist()}  # float64 first: float32 rounded to
        if scores is not None:  # 0.1 still prints as 225.1999969482422
            e["scores"] = np.round(np.asarray(scores, np.float64), 4).tolist()
        entries.append(e)
        secs.append(s)
        cached += bool(more and more[0])
        try:
            hit = gt_index.match(name) if gt is not None else None
        except AmbiguousImageName as e:
            raise click.ClickException(str(e)) from None
        if hit is not None:
            g = gt.images[hit[0]]
            sx, sy = image.shape[1] / g.width, image.shape[0] / g.height
            if (sx, sy) != (1.0, 1.0):  # a resized copy (ILSVRC's 227 px squeezes): its boxes scaled to the image
                rescaled.append(f"{name}: {image.shape[1]}×{image.shape[0]}, {g.width}×{g.height} in the ground truth")
            keep = g.counted  # not difficult objects nor crowd regions, as no evaluation counts them (trial 47)
            gts.append(g.boxes[keep] * np.array([sx, sy, sx, sy], np.float32))
            props.append(boxes)
    m = {"images": len(entries), "errors": len(errors),
         "boxes_per_image": float(np.mean([len(e["boxes"]) for e in entries])) if entries else 0.0,
         "seconds_per_image": float(np.mean(secs)) if secs else 0.0, "cached_images": cached}
    if gt is not None:
        r = recall_at(gts, props, (0.5, 0.7), TOP_NS)
        some = any(len(g) for g in gts)  # none (their images failed): no value, null in --json, not NaN
        m["recall"] = {str(t): {("all" if n is None else str(n)): (r[(t, n)] if some else None) for n in TOP_NS}
                       for t in (0.5, 0.7)}
        m["mabo"] = mean_best_overlap(gts, props) if some else None
        m["gt_images"] = len(gts)
        m["gt_boxes"] = int(sum(len(g) for g in gts))
        m["gt_rescaled_images"] = len(rescaled)
        m["_rescaled"] = rescaled[:3]  # examples for the caller's note, not written
    return m, {"method": method, "box_format": "xyxy", "images": entries, "errors": errors}


def _print_table(report: dict, with_recall: bool):
    head = f"{'method':<9} {'boxes/img':>9} {'s/img':>7}"
    if with_recall:
        ns = ["100", "300", "1000", "2000", "all"]
        head += "  " + " ".join(f"R.5@{n:<4}" for n in ns) + "  " + " ".join(f"R.7@{n:<4}" for n in ns) + "   MABO"
    click.echo(head)
    for method, m in report.items():
        row = f"{method:<9} {m['boxes_per_image']:>9.1f} {m['seconds_per_image']:>7.3f}"
        if with_recall:
            def cell(v, width=8):  # None: no ground-truth box was measured
                return f"{v:>{width}.3f}" if v is not None else f"{'–':>{width}}"
            row += "  " + " ".join(cell(m['recall']['0.5'][n]) for n in ns)
            row += "  " + " ".join(cell(m['recall']['0.7'][n]) for n in ns) + f"  {cell(m['mabo'], 5)}"
        click.echo(row)
