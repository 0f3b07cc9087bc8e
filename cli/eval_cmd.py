"""``detect eval``: mAP of predictions against ground truth (ILSVRC devkit rules by default)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from detector.data import DatasetError
from detector.data.io import atomic_write_json
from detector.data.readers import load_coco_json
from eval import (
    METRICS,
    PredictionError,
    align_predictions,
    evaluate,
    read_blacklist,
    read_predictions,
)
from eval.evaluate import BOOTSTRAP_METRICS, bootstrap_interval
from eval.matching import DEFAULT_IOU

from .common import (FiniteFloat, count, dataset_files, format_option, images_option, load_dataset,
                     refuse_replacing_inputs)

MIN_RESAMPLES = 100  # --bootstrap's least N (ours): fewer cannot place the 2.5th and 97.5th percentiles

METRIC_HELP = {
    "ilsvrc": "ILSVRC 2014 devkit: per-object IoU threshold min(0.5, wh/((w+10)(h+10))), all-point AP",
    "voc": "PASCAL VOC 2010+: difficult objects ignored, all-point AP",
    "voc07": "PASCAL VOC 2007: difficult objects ignored, 11-point AP",
    "coco": "COCO (pycocotools): AP@[.5:.95] and the 11 other standard numbers",
}


def _print_notes(aligned, result_notes, prefix: str) -> None:
    """What the matching of a prediction file (``aligned``) to the ground truth left out or should be known, to
    stderr, each line starting ``note: {prefix}``."""
    for note in (*aligned.notes, *result_notes):
        click.echo(f"note: {prefix}{note}", err=True)
    if aligned.dropped_unknown_image:
        click.echo(f"note: {prefix}left out: {count(aligned.dropped_unknown_image, 'prediction')} on "
                   f"{count(len(aligned.unknown_images), 'image')} not in the ground truth "
                   f"(e.g. {', '.join(aligned.unknown_images[:3])})", err=True)
    if aligned.dropped_other_class:
        top = sorted(aligned.dropped_other_class.items(), key=lambda kv: -kv[1])
        click.echo(f"note: {prefix}left out: {count(sum(aligned.dropped_other_class.values()), 'prediction')} of "
                   f"{count(len(top), 'class', 'classes')} that the ground truth does not have "
                   f"({', '.join(f'{k} {v}' for k, v in top[:5])}{', …' if len(top) > 5 else ''})", err=True)


@click.command("eval")
@click.option("--gt", "gt_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth: COCO JSON, ILSVRC or VOC XML folder, Penn-Fudan annotations.")
@click.option("--pred", "pred_path", default="boxes.json", show_default=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Predictions: boxes.json, a COCO results list, or an ILSVRC submission text file.")
@click.option("--metric", type=click.Choice(METRICS), default="ilsvrc", show_default=True,
              help="; ".join(f"{k}: {v}" for k, v in METRIC_HELP.items()))
@format_option
@images_option
@click.option("--image-list", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="ILSVRC evaluation list ('name index' lines): restricts ILSVRC ground truth to these images and "
                   "numbers the images of ILSVRC submission text and of the blacklist.")
@click.option("--blacklist", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="ILSVRC blacklist ('index wnid' lines): those (image, class) pairs are left out.")
@click.option("--iou-threshold", type=FiniteFloat(0.0, 1.0, min_open=True), default=DEFAULT_IOU, show_default=True,
              help="IoU for a match (voc/voc07); the cap of the per-object threshold (ilsvrc); unused by coco.")
@click.option("--model-classes-only", is_flag=True,
              help="Score only the ground-truth classes that the prediction file's model knows (its categories; "
                   "boxes.json) or predicts (other formats).")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Also give a 95 % confidence interval of the mAP: the images resampled with replacement N times "
                   "(percentile bootstrap; at least 100, 1000 is usual; 0 = off). Not with --metric coco.")
@click.option("--baseline", "baseline_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None,
              help="Another prediction file on the same images (any format --pred reads): also its mAP, the "
                   "difference, and with --bootstrap the interval of the difference over the same resamples (a "
                   "paired comparison).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results as JSON to this file.")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw precision-recall curves to this PNG (needs matplotlib: pip install '.[plot]').")
@click.pass_context
def eval_cmd(ctx, gt_path, pred_path, metric, fmt, images, image_list, blacklist, iou_threshold, model_classes_only,
             resamples, baseline_path, json_out, plot_out):
    """Evaluate detections against ground truth and print per-class AP and mAP.

    Predictions are matched to ground-truth images by path: the trailing path components of their file name
    (cam_a/0001.jpg) against the ground truth's (the last one without its extension), the longest agreement
    winning; a name that fits two images equally is refused. Where a format gives no names (COCO results without
    'file_name'), by id, and only against ground truth with ids of its own (COCO JSON, ILSVRC with --image-list).
    Classes are matched by ILSVRC WordNet id where both sides map onto the vocabulary (a VOC 'person' box and an
    ILSVRC n00007846 detection are the same class), else by name. Predictions on images or classes absent from the
    ground truth are reported and left out; when none of the file's images or none of its classes is in the
    ground truth, nothing can be evaluated and the command stops with an error (a file with no predictions, the
    detector having found nothing, gives AP 0). Difficult objects and crowd regions are ignored by every metric.
    """
    t0 = time.perf_counter()
    if metric == "coco" and ctx.get_parameter_source("iou_threshold") != click.core.ParameterSource.DEFAULT:
        click.echo(f"warning: --iou-threshold {iou_threshold:g} is not used: --metric coco evaluates IoU 0.5:0.95 "
                   "(AP50 and AP75 among its numbers)", err=True)
    if 0 < resamples < MIN_RESAMPLES:  # trial 20: 1 or 2 resamples gave a point or an interval beside the mAP
        raise click.BadParameter(f"{resamples} resamples cannot give a 95 % interval: give at least {MIN_RESAMPLES} "
                                 "(1000 is usual), or 0 for none", param_hint="--bootstrap")
    if resamples and metric not in BOOTSTRAP_METRICS:
        raise click.BadParameter(f"the interval is computed for --metric {', '.join(BOOTSTRAP_METRICS)}, not "
                                 f"{metric} (pycocotools' numbers are not resampled)", param_hint="--bootstrap")
    outputs = {"--json": json_out, "--plot": plot_out}
    refuse_replacing_inputs(outputs, [gt_path, pred_path, image_list, blacklist, baseline_path])
    gt_format = fmt
    if fmt == "auto":
        from detector.data import detect_format

        try:
            gt_format = detect_format(gt_path)
        except DatasetError as e:
            raise click.ClickException(str(e)) from None
    gt = load_dataset(gt_path, gt_format, images=images, image_list=image_list if gt_format == "ilsvrc" else None)
    refuse_replacing_inputs(outputs, dataset_files(gt))
    if not gt.num_boxes:
        raise click.ClickException(f"{gt.source}: the ground truth holds no objects ({count(len(gt), 'image')}, no "
                                   "boxes): nothing to evaluate")
    try:
        preds = read_predictions(pred_path, image_list=image_list)
        aligned = align_predictions(preds, gt)
        bl = read_blacklist(blacklist, gt, image_list=image_list) if blacklist else None
        base = align_predictions(read_predictions(baseline_path, image_list=image_list), gt) if baseline_path \
            else None
    except PredictionError as e:
        raise click.ClickException(str(e)) from None
    coco_gt = None
    if metric == "coco" and gt.format == "coco":
        try:
            coco_gt = load_coco_json(gt.source)
        except DatasetError as e:
            raise click.ClickException(str(e)) from None
    result = evaluate(gt, aligned, metric, iou_threshold=iou_threshold, blacklist=bl, coco_gt=coco_gt,
                      only_classes=set(aligned.known_classes) if model_classes_only else None)
    only = set(aligned.known_classes) if model_classes_only else None  # the baseline is scored on these too
    base_result = evaluate(gt, base, metric, iou_threshold=iou_threshold, blacklist=bl, coco_gt=coco_gt,
                           only_classes=only) if base is not None else None
    interval = diff_interval = None
    if resamples and len(gt.images) >= 2 and any(c.ap is not None for c in result.per_class):
        interval = bootstrap_interval(gt, aligned, metric, resamples=resamples, iou_threshold=iou_threshold,
                                      blacklist=bl, only_classes=only)
        if base is not None:
            diff_interval = bootstrap_interval(gt, aligned, metric, resamples=resamples,
                                               iou_threshold=iou_threshold, blacklist=bl, only_classes=only,
                                               baseline=base)
    elif resamples:
        click.echo("note: --bootstrap: no interval (one image, or no class with positives)", err=True)
    seconds = time.perf_counter() - t0

    err = lambda msg: click.echo(msg, err=True)
    _print_notes(aligned, result.notes, "")
    if preds.errors:
        err(f"note: the detector could not read {count(len(preds.errors), 'image')} "
            f"(listed under 'errors' in {pred_path})")
    if base is not None:  # trial 20: a baseline of fewer images was compared without a word
        _print_notes(base, (), f"baseline {baseline_path}: ")
        if os.path.realpath(baseline_path) == os.path.realpath(pred_path):
            err("note: the baseline is the prediction file itself")

    width = max([len(c.category.name) for c in result.per_class] + [5])
    own_ids = gt.format == "coco"  # the ground truth's own category ids (COCO JSON), else the ILSVRC det_id
    ids = [c.category.source_id if own_ids else c.category.det_id for c in result.per_class]
    ids = ["" if i is None else str(i) for i in ids]
    id_width = max([len(i) for i in ids] + [4])
    click.echo(f"{'id':>{id_width}}  {'class':<{width}}  {'AP':>7}  {'gt':>6}  {'det':>7}")
    for cid, c in zip(ids, result.per_class):
        ap = "   -   " if c.ap is None else f"{c.ap:7.4f}"
        click.echo(f"{cid:>{id_width}}  {c.category.name:<{width}}  {ap}  {c.num_gt:>6}  {c.num_det:>7}")
    n_cls = sum(c.ap is not None for c in result.per_class)
    if metric == "coco":
        for name, v in result.extra.items():
            click.echo(f"{name:>6} {v:.4f}")
    rule = "IoU 0.5:0.95" if metric == "coco" else (
        f"per-object IoU ≤ {iou_threshold:g}" if metric == "ilsvrc" else f"IoU ≥ {iou_threshold:g}")
    if not n_cls:  # every object difficult or a crowd region: an average of nothing, not a score of 0
        click.echo("note: no class has positives (every object is difficult or a crowd region): there is no mAP to "
                   "give", err=True)
    maps = f"mAP {result.mAP:.4f}  median AP {result.median_AP:.4f}" if n_cls else "mAP -  median AP -"
    click.echo(f"{metric} {maps}  ({count(n_cls, 'class', 'classes')} with positives, {count(result.num_images, 'image')}, "
               f"{count(result.num_predictions, 'prediction')}, {rule}; {seconds:.2f} s)")
    if interval is not None:
        click.echo(f"{metric} mAP 95 % interval {interval[0]:.4f}–{interval[1]:.4f} (bootstrap over the "
                   f"{count(result.num_images, 'image')}, {resamples} resamples)")
    if base_result is not None and not n_cls:  # nothing to average: no mAP, so no difference (trial 20)
        click.echo(f"baseline {baseline_path}: {metric} mAP -")
    elif base_result is not None:
        diff = result.mAP - base_result.mAP
        paired = f"; 95 % interval {diff_interval[0]:+.4f} to {diff_interval[1]:+.4f} (paired bootstrap, the same " \
                 f"{resamples} resamples)" if diff_interval is not None else ""
        beyond = diff_interval is not None and (diff_interval[0] > 0 or diff_interval[1] < 0)
        verdict = "" if diff_interval is None else " — more than the choice of images explains" if beyond else \
            " — within what the choice of images explains"
        click.echo(f"baseline {baseline_path}: {metric} mAP {base_result.mAP:.4f}; difference {diff:+.4f}"
                   f"{paired}{verdict}")
    if json_out:
        d = result.to_dict()
        if interval is not None:
            d["bootstrap"] = {"resamples": resamples, "level": 0.95, "method": "percentile", "seed": 0,
                              "low": interval[0], "high": interval[1]}
        if base_result is not None and n_cls:
            d["baseline"] = {"file": str(baseline_path), "mAP": base_result.mAP,
                             "difference": result.mAP - base_result.mAP}
            if diff_interval is not None:
                d["baseline"].update(low=diff_interval[0], high=diff_interval[1], beyond_noise=beyond)
        d["left_out"] = {"unknown_images": aligned.dropped_unknown_image,
                         "other_classes": aligned.dropped_other_class}
        d["seconds"] = round(seconds, 3)
        atomic_write_json(json_out, d)
        click.echo(f"wrote {json_out}")
    if plot_out:
        from eval.plot import plot_pr_curves

        try:
            plot_pr_curves(result, plot_out)
        except RuntimeError as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"wrote {plot_out}")
