"""``detect eval``: mAP of predictions against ground truth (ILSVRC devkit rules by default)."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import click
import numpy as np

from detector.data import Dataset, DatasetError
from detector.data.io import atomic_write_json
from detector.data.readers import load_coco_json
from eval import (
    METRICS,
    AlignedPredictions,
    EvalResult,
    PredictionError,
    Predictions,
    align_predictions,
    better_elsewhere,
    evaluate,
    read_blacklist,
    read_predictions,
)
from eval.evaluate import BOOTSTRAP_METRICS, BootstrapSet, mean_map_interval
from eval.matching import DEFAULT_IOU
from eval.plot import is_plot_png, is_png
from eval.predictions import ImageListNeeded, known_classes, voc_results_class
from eval.yolo_results import results_files

from .common import (FiniteFloat, OutFile, count, dataset_files, format_option, images_option, load_dataset,
                     refuse_binary_outputs, refuse_replacing_inputs)

MIN_RESAMPLES = 100  # --bootstrap's least N (ours): fewer cannot place the 2.5th and 97.5th percentiles

METRIC_HELP = {
    "ilsvrc": "ILSVRC 2014 devkit: per-object IoU threshold min(0.5, wh/((w+10)(h+10))), all-point AP",
    "voc": "PASCAL VOC 2010+: difficult objects ignored, all-point AP",
    "voc07": "PASCAL VOC 2007: difficult objects ignored, 11-point AP",
    "coco": "COCO (pycocotools): AP@[.5:.95] and the 11 other standard numbers",
}


def _print_notes(aligned, result_notes, prefix: str, *, skip_unknown: bool = False) -> None:
    """What the matching of a prediction file (``aligned``) to the ground truth left out or should be known, to
    stderr, each line starting ``note: {prefix}`` (``skip_unknown``: not the predictions on other images — the file
    covers several ground truths)."""
    for note in (*aligned.notes, *result_notes):
        click.echo(f"note: {prefix}{note}", err=True)
    if aligned.dropped_unknown_image and not skip_unknown:
        click.echo(f"note: {prefix}left out: {count(aligned.dropped_unknown_image, 'prediction')} on "
                   f"{count(len(aligned.unknown_images), 'image')} not in the ground truth "
                   f"(e.g. {', '.join(aligned.unknown_images[:3])})", err=True)
    if aligned.dropped_other_class:
        top = sorted(aligned.dropped_other_class.items(), key=lambda kv: -kv[1])
        click.echo(f"note: {prefix}left out: {count(sum(aligned.dropped_other_class.values()), 'prediction')} of "
                   f"{count(len(top), 'class', 'classes')} that the ground truth does not have "
                   f"({', '.join(f'{k} {v}' for k, v in top[:5])}{', …' if len(top) > 5 else ''})", err=True)


@click.command("eval")
@click.option("--gt", "gt_paths", required=True, multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth: COCO JSON, ILSVRC or VOC XML folder, Penn-Fudan annotations, YOLO (a data.yaml: "
                   "its val split; or a split's images folder), LabelMe JSON (a folder of them, or one). "
                   "Repeat it to score several datasets: each one's mAP and their mean (each dataset weighs the same).")
@click.option("--pred", "pred_paths", default=("boxes.json",), show_default=True, multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Predictions: boxes.json, a COCO results list, an ILSVRC submission text file, or PASCAL VOC devkit "
                   "results (one <comp>_det_<set>_<class>.txt file, or a folder of one run's: one per class), or a "
                   "YOLO run's folder (labels/<stem>.txt of save_txt=True save_conf=True). With several "
                   "--gt: one file holding the images of all (one detect run over them), or one per --gt, in order.")
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
                   "boxes.json) or predicts (other formats; a detect run --format coco/ilsvrc output with its job "
                   "record: also the classes its --classes kept).")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Also give a 95 % confidence interval of the mAP: the images resampled with replacement N times "
                   "(percentile bootstrap; at least 100, 1000 is usual; 0 = off). Not with --metric coco.")
@click.option("--baseline", "baseline_paths", type=click.Path(exists=True, path_type=Path),
              multiple=True,
              help="Another prediction file on the same images (any format --pred reads): also its mAP, the "
                   "difference, and with --bootstrap the interval of the difference over the same resamples (a "
                   "paired comparison). With several --gt: one file or one per --gt, as --pred.")
@click.option("--json", "json_out", type=OutFile("eval.json"), default=None,
              help="Write the results as JSON to this file.")
@click.option("--plot", "plot_out", type=OutFile("pr.png"), default=None,
              help="Draw precision-recall curves to this PNG (needs matplotlib: pip install '.[plot]').")
@click.pass_context
def eval_cmd(ctx, gt_paths, pred_paths, metric, fmt, images, image_list, blacklist, iou_threshold,
             model_classes_only, resamples, baseline_paths, json_out, plot_out):
    """Evaluate detections against ground truth and print per-class AP and mAP.

    Predictions are matched to ground-truth images by path: the trailing path components of their file name
    (cam_a/0001.jpg) against the ground truth's (the last one without its extension), the longest agreement
    winning; a name that fits two images equally is refused. Where a format gives no names (COCO results without
    'file_name'), by id, and only against ground truth with ids of its own (COCO JSON, ILSVRC with --image-list).
    PASCAL VOC devkit results name each image by its identifier, the stem of its annotation; one of no
    ground-truth image stops the command, as it stops the devkit, and classes without a results file score AP 0.
    Classes are matched by ILSVRC WordNet id where both sides map onto the vocabulary (a VOC 'person' box and an
    ILSVRC n00007846 detection are the same class), else by name. Predictions on images or classes absent from the
    ground truth are reported and left out; when none of the file's images or none of its classes is in the
    ground truth, nothing can be evaluated and the command stops with an error (a file with no predictions, the
    detector having found nothing, gives AP 0). Difficult objects and crowd regions are ignored by every metric —
    but --metric coco on a COCO file is pycocotools on it, which ignores crowd regions only (a difficult object
    that file marks "ignore": 1 counts there).

    With several --gt, each dataset is scored on its own (one line each; per-class APs in --json) and their mAPs
    are averaged, each dataset weighing the same (one --pred for all: an image goes to the dataset whose image it
    fits best); --bootstrap then resamples each dataset's images on their own
    (a stratified bootstrap) for the interval of that mean and, with --baseline, of the mean difference.
    """
    t0 = time.perf_counter()
    if metric == "coco" and ctx.get_parameter_source("iou_threshold") != click.core.ParameterSource.DEFAULT:
        click.echo(f"warning: --iou-threshold {iou_threshold:g} is not used: --metric coco evaluates IoU 0.5:0.95 "
                   "(AP50 and AP75 among its numbers)", err=True)
    if 0 < resamples < MIN_RESAMPLES:  # trial 20: 1 or 2 resamples gave a point or an interval beside the mAP
        raise click.BadParameter(f"{resamples} resamples cannot give a 95 % interval: give at least {MIN_RESAMPLES} "
                                 "(1000 is usual), or 0 for none", param_hint="'--bootstrap'")
    if resamples and metric not in BOOTSTRAP_METRICS:
        raise click.BadParameter(f"the interval is computed for --metric {', '.join(BOOTSTRAP_METRICS)}, not "
                                 f"{metric} (pycocotools' numbers are not resampled)", param_hint="'--bootstrap'")
    n = len(gt_paths)
    for flag, paths in (("--pred", pred_paths), ("--baseline", baseline_paths)):
        if len(paths) > 1 and len(paths) != n:
            raise click.BadParameter(f"{len(paths)} files for {count(n, 'ground truth')}: give one file" + (
                " holding every ground truth's images, or one per --gt in the same order" if n > 1 else ""),
                param_hint=f"'{flag}'")
    if n > 1:
        for flag, value in (("--plot", plot_out), ("--image-list", image_list), ("--blacklist", blacklist),
                            ("--images", images)):
            if value is not None:
                raise click.BadParameter(f"it applies to one ground truth, and {n} are given: evaluate that one "
                                         "alone", param_hint=f"'{flag}'")
    seen_gt: dict[str, Path] = {}
    for p in gt_paths:
        if (key := os.path.realpath(p)) in seen_gt:
            raise click.BadParameter(f"{p} is given twice{'' if str(seen_gt[key]) == str(p) else f' (as {seen_gt[key]})'}"
                                     ": each dataset once", param_hint="'--gt'")
        seen_gt[key] = p
    outputs = {"--json": json_out, "--plot": plot_out}
    refuse_replacing_inputs(outputs, [*gt_paths, *_pred_files(pred_paths), image_list, blacklist,
                                      *_pred_files(baseline_paths)])
    folders = {p.resolve() for p in (*pred_paths, *baseline_paths) if p.is_dir()}
    for flag, path in outputs.items():  # trial 37: written there, the next evaluation reads it as a class's results
        if path is not None and voc_results_class(path) is not None and Path(path).resolve().parent in folders:
            raise click.UsageError(f"{flag} {path} would be written into the VOC results folder {Path(path).parent} "
                                   "under a results file's name, and read as one the next time: write it elsewhere")
    pred_for = [pred_paths[k] if len(pred_paths) > 1 else pred_paths[0] for k in range(n)]
    base_for = [baseline_paths[k] if len(baseline_paths) > 1 else baseline_paths[0] for k in range(n)] \
        if baseline_paths else [None] * n
    read: dict[Path, Predictions] = {}  # a prediction file read once, however many ground truths share it
    if n > 1:
        for flag, paths in (("--pred", pred_paths), ("--baseline", baseline_paths)):
            if len(paths) == 1:
                _refuse_shared_by_id(paths[0], _read_predictions(paths[0], read, image_list, shared=True), flag)
    gts = [_load_gt(p, outputs=outputs, fmt=fmt, images=images, image_list=image_list) for p in gt_paths]
    # after the checks naming an input it would replace; the plot (a PNG) replaces an earlier plot alone
    refuse_binary_outputs(outputs, own_kind={"--plot": "a PNG image"})
    if plot_out is not None and is_png(plot_out) and not is_plot_png(plot_out):
        # a PNG that no plot wrote, a photo of someone's, is not replaced either (trial 65; other binary files: above)
        raise click.ClickException(f"--plot {plot_out} exists and is a PNG image that no `detect eval --plot` wrote "
                                   "(it has no Matplotlib mark), which this output would replace: give another path, "
                                   "or delete it first")
    # a file shared by several ground truths: an image that fits another one's better is that one's (trial 25)
    elsewhere: dict[Path, list] = {}
    if n > 1:
        for paths in (pred_paths, baseline_paths):
            if len(paths) == 1:
                preds = _read_predictions(paths[0], read, image_list)
                elsewhere[paths[0]] = better_elsewhere(_image_names(preds), gts, preds.image_sizes,
                                                       fitting_none=preds.format == "voc_results")
    scored = [_score(gt_paths[k], gts[k], pred_for[k], base_for[k], read=read, metric=metric, image_list=image_list,
                     blacklist=blacklist, iou_threshold=iou_threshold, model_classes_only=model_classes_only,
                     elsewhere=elsewhere, k=k) for k in range(n)]
    kw = dict(metric=metric, resamples=resamples, iou_threshold=iou_threshold)
    if n == 1:
        _report_one(scored[0], t0=t0, json_out=json_out, plot_out=plot_out, **kw)
    else:
        _report_several(scored, read, t0=t0, json_out=json_out, **kw)


@dataclasses.dataclass
class _Scored:
    """One ground truth scored: what was read and what :func:`eval.evaluate` gave (``base*``: the baseline's)."""

    gt_path: Path
    pred_path: Path
    baseline_path: Path | None
    gt: Dataset
    preds: Predictions
    aligned: AlignedPredictions
    base: AlignedPredictions | None
    blacklist: set[tuple[int, int]] | None
    only: set[int] | None  # --model-classes-only: the classes scored
    result: EvalResult
    base_result: EvalResult | None
    base_preds: Predictions | None = None  # the baseline file as read

    @property
    def has_map(self) -> bool:  # a class with positives: something to average
        return any(c.ap is not None for c in self.result.per_class)

    @property
    def why_no_map(self) -> str:
        """Why no class has positives: the classes left to score, or the objects themselves."""
        findable = any(im.counted.any() for im in self.gt.images)
        if self.only is not None and findable:
            return "among the classes the prediction file's model knows (--model-classes-only)"
        return "(every object is difficult or a crowd region)"

    def bootstrap_set(self) -> BootstrapSet:
        return BootstrapSet(self.gt, self.aligned, baseline=self.base, only_classes=self.only,
                            blacklist=self.blacklist)


def _read_predictions(path: Path, read: dict, image_list, *, shared: bool = False):
    """``read_predictions`` once per file (``read`` keeps them); ``shared``: the file is given for several --gt."""
    if path not in read:
        try:
            read[path] = read_predictions(path, image_list=image_list)
        except ImageListNeeded as e:
            if not shared:
                raise click.ClickException(str(e)) from None
            # trial 33: "pass --image-list", and with it "it applies to one ground truth": round in a circle
            raise click.ClickException(f"{path}: ILSVRC submission text numbers the images of one evaluation list, "
                                       "so it is scored against one ground truth at a time: give its --gt alone, "
                                       "with --image-list") from None
        except PredictionError as e:
            raise click.ClickException(str(e)) from None
    return read[path]


def _pred_files(paths) -> list[Path]:
    """The prediction files of ``paths``: a file itself, a folder's VOC devkit results files and YOLO text files
    (an unreadable folder: none; reading it says why)."""
    out = []
    for p in paths:
        try:
            out += [f for f in p.iterdir() if voc_results_class(f) is not None] + results_files(p) if p.is_dir() \
                else [p]
        except OSError:
            pass
    return out


def _image_names(preds: Predictions) -> list[str]:
    """Every image name of ``preds``: those of its predictions and those of the images it lists as run."""
    return [*preds.listed_images, *(name for name in preds.image_names if name is not None)]


def _refuse_shared_by_id(path: Path, preds, flag: str) -> None:
    """One file for several ground truths is matched to each by image name: a file whose images are ids only
    (COCO results without 'file_name') would put its detections on the image of that id in every dataset."""
    if any(name is None for name in preds.image_names):
        raise click.ClickException(f"{path}: its images are given by image_id only (no 'file_name'), and an id does "
                                   "not say which of several ground truths its image is (the same id may be an image "
                                   f"of each): give one {flag} file per --gt, in the same order, or give each result "
                                   "its image's 'file_name'")


def _load_gt(gt_path, *, outputs, fmt, images, image_list) -> Dataset:
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
    return gt


def _score(gt_path: Path, gt: Dataset, pred_path, baseline_path, *, read, metric, image_list, blacklist, iou_threshold,
           model_classes_only, elsewhere: dict, k: int) -> _Scored:
    """``gt`` scored against ``pred_path`` (and ``baseline_path``); ``elsewhere[path][k]``: the names of a shared
    file's images that are another ground truth's (:func:`eval.better_elsewhere`)."""
    try:
        preds = _read_predictions(pred_path, read, image_list)
        only = set(known_classes(preds, gt)) if model_classes_only else None  # the baseline is scored on these too
        aligned = align_predictions(preds, gt, elsewhere=elsewhere[pred_path][k] if pred_path in elsewhere else (),
                                    only_classes=only)
        bl_notes: list[str] = []
        bl = read_blacklist(blacklist, gt, image_list=image_list, notes=bl_notes) if blacklist else None
        base_preds = _read_predictions(baseline_path, read, image_list) if baseline_path else None
        base = align_predictions(base_preds, gt,
                                 elsewhere=elsewhere[baseline_path][k] if baseline_path in elsewhere else (),
                                 only_classes=only) if baseline_path else None
    except PredictionError as e:
        raise click.ClickException(str(e)) from None
    for note in bl_notes:  # lines that match no image or class: the devkit takes them, they leave nothing out
        click.echo(f"note: --blacklist {note}", err=True)
    texts = [read[p].format == "ilsvrc_text" for p in (pred_path, baseline_path) if p is not None]
    if image_list is not None and gt.format != "ilsvrc" and not any(texts) and not blacklist:
        # trial 34: a list that does nothing — a PNG or 'bogus 1' — went by without a word
        click.echo(f"note: --image-list {image_list} is not used: it restricts ILSVRC XML ground truth and numbers "
                   f"ILSVRC submission text and a blacklist, and {gt.source} is {gt.format} ground truth, "
                   f"{pred_path} no submission text", err=True)
    coco_gt = None
    if metric == "coco" and gt.format == "coco":
        try:
            coco_gt = load_coco_json(gt.source)
        except DatasetError as e:
            raise click.ClickException(str(e)) from None
    result = evaluate(gt, aligned, metric, iou_threshold=iou_threshold, blacklist=bl, coco_gt=coco_gt,
                      only_classes=only)
    base_result = evaluate(gt, base, metric, iou_threshold=iou_threshold, blacklist=bl, coco_gt=coco_gt,
                           only_classes=only) if base is not None else None
    return _Scored(gt_path, pred_path, baseline_path, gt, preds, aligned, base, bl, only, result, base_result,
                   base_preds)


def _intervals(s: _Scored, metric, resamples, iou_threshold):
    """(mAP interval, difference interval) of one ground truth; None where not asked for or not computable."""
    if not resamples or len(s.gt.images) < 2 or not s.has_map:
        return None, None
    kw = dict(resamples=resamples, iou_threshold=iou_threshold)
    alone = dataclasses.replace(s.bootstrap_set(), baseline=None)
    interval = mean_map_interval([alone], metric, **kw)
    diff = mean_map_interval([s.bootstrap_set()], metric, **kw) if s.base is not None else None
    return interval, diff


def _note_no_width(which: str = "") -> None:
    """A bootstrap interval of no width measures nothing (trial 40: one image held every object, and "0.3333–0.3333"
    read as certainty)."""
    click.echo(f"note: {which}the interval has no width: every resample scored alike (one image holding every "
               "object, say, or every detection right), so it says nothing of how much the mAP would vary on other "
               "images", err=True)


def _difference_line(head: str, ours: float, theirs: float, interval, resamples: int) -> str:
    """``{head} {theirs}; difference …`` with the paired interval and its verdict where there is one."""
    paired = "" if interval is None else f"; 95 % interval {interval[0]:+.4f} to {interval[1]:+.4f} (paired " \
        f"bootstrap, the same {_resamples(interval, resamples)}){_verdict(interval)[1]}"
    return f"{head} {theirs:.4f}; difference {ours - theirs:+.4f}{paired}"


def _verdict(interval) -> tuple[bool, str]:
    beyond = interval[0] > 0 or interval[1] < 0
    return beyond, (" — more than the choice of images explains" if beyond else
                    " — within what the choice of images explains")


def _undetectable_classes(gt: Dataset, preds: Predictions, aligned: AlignedPredictions,
                          result: EvalResult) -> tuple[list[str], int]:
    """The names of the ground-truth classes with positives that the run of ``preds`` could not detect — not among
    its boxes.json's categories, or not among the classes its run kept (``--classes``, from its job) — and how many
    classes have positives. None are told for files that name only the classes they predicted (COCO results, ILSVRC
    text without a job record)."""
    scored = [c for c in result.per_class if c.ap is not None]
    if not (preds.format == "boxes_json" or preds.kept_classes):
        return [], len(scored)
    known = {gt.classes[i].key for i in aligned.known_classes}
    return [c.category.name for c in scored if c.category.key not in known], len(scored)


def _undetectable_note(s: _Scored, preds: Predictions, aligned: AlignedPredictions, result: EvalResult, *,
                       its: str, mean: str, or_else: str = "") -> str | None:
    """The note on the classes with positives that the run of ``preds`` (scored as ``result``) could not detect
    (:func:`_undetectable_classes`), each AP 0 in ``mean``; ``its``: the file as the note names it (``"X's"``,
    ``"its"``); ``or_else``: another reason a category is missing. None when there are none."""
    outside, with_ap = _undetectable_classes(s.gt, preds, aligned, result)
    if not outside:
        return None
    one, names = len(outside) == 1, f"{', '.join(outside[:5])}{', …' if len(outside) > 5 else ''}"
    said = (f"among the classes {its} run kept (--classes {','.join(preds.kept_classes)}): {names};"
            if preds.kept_classes else
            f"among {its} categories ({names}): its model does not detect {'it' if one else 'them'}{or_else}, and")
    return (f"{count(len(outside), 'class', 'classes')} of the {with_ap} with positives {'is' if one else 'are'} not "
            f"{said} {'it scores' if one else 'each scores'} AP 0 in {mean}")


def _print_file_notes(s: _Scored, prefix: str, *, skip_unknown: bool = False) -> None:
    _print_notes(s.aligned, s.result.notes, prefix, skip_unknown=skip_unknown)
    # a run that kept other classes is a reason only where no job says it had no --classes (trial 63)
    or_else = ", or its run kept other classes (--classes)" if s.preds.kept_classes is None else ""
    if s.only is None and (text := _undetectable_note(
            s, s.preds, s.aligned, s.result, its=f"{s.pred_path}'s", or_else=or_else,
            mean="the mean; --model-classes-only scores the others alone")):
        click.echo(f"note: {prefix}{text}", err=True)
    if s.base is not None:  # trial 20: a baseline of fewer images was compared without a word
        _print_notes(s.base, (), f"{prefix}baseline {s.baseline_path}: ", skip_unknown=skip_unknown)
        # it is scored on the classes --pred is scored on: one its run could not detect scores AP 0 there and counts
        # against it in the difference (trial 63: --pred's were noted, the baseline's not, and such a difference
        # read "more than the choice of images explains")
        if s.base_preds is not None and s.base_result is not None and (text := _undetectable_note(
                s, s.base_preds, s.base, s.base_result, its="its",
                mean="the baseline's mean, which the difference counts against it")):
            click.echo(f"note: {prefix}baseline {s.baseline_path}: {text}", err=True)
        if os.path.realpath(s.baseline_path) == os.path.realpath(s.pred_path):
            click.echo(f"note: {prefix}the baseline is the prediction file itself", err=True)


def _report_one(s: _Scored, *, t0, metric, resamples, iou_threshold, json_out, plot_out) -> None:
    result, base_result = s.result, s.base_result
    interval = diff_interval = None
    if resamples:
        interval, diff_interval = _intervals(s, metric, resamples, iou_threshold)
        if interval is None:
            click.echo("note: --bootstrap: no interval (one image, or no class with positives)", err=True)
    seconds = time.perf_counter() - t0

    err = lambda msg: click.echo(msg, err=True)
    _print_file_notes(s, "")
    if s.preds.errors:
        err(f"note: the detector could not read {count(len(s.preds.errors), 'image')} "
            f"(listed under 'errors' in {s.pred_path})")

    width = max([len(c.category.name) for c in result.per_class] + [5])
    own_ids = s.gt.format == "coco"  # the ground truth's own category ids (COCO JSON), else the ILSVRC det_id
    ids = [c.category.source_id if own_ids else c.category.det_id for c in result.per_class]
    ids = ["" if i is None else str(i) for i in ids]
    id_width = max([len(i) for i in ids] + [4])
    click.echo(f"{'id':>{id_width}}  {'class':<{width}}  {'AP':>7}  {'gt':>6}  {'det':>7}")
    for cid, c in zip(ids, result.per_class):
        ap = "   -   " if c.ap is None else f"{c.ap:7.4f}"
        click.echo(f"{cid:>{id_width}}  {c.category.name:<{width}}  {ap}  {c.num_gt:>6}  {c.num_det:>7}")
    n_cls = sum(c.ap is not None for c in result.per_class)
    if metric == "coco":  # trial 33: beside a --model-classes-only mAP below, an AP of other classes unexplained
        click.echo("pycocotools' summary (COCOeval, every category of the ground truth):")
        for name, v in result.extra.items():
            click.echo(f"{name:>6} {_coco_stat(name, v)}")
    if not n_cls:  # every object difficult or a crowd region: an average of nothing, not a score of 0
        click.echo(f"note: no class has positives {s.why_no_map}: there is no mAP to give", err=True)
    maps = f"mAP {result.mAP:.4f}  median AP {result.median_AP:.4f}" if n_cls else "mAP -  median AP -"
    click.echo(f"{metric} {maps}  ({count(n_cls, 'class', 'classes')} with positives, "
               f"{count(result.num_images, 'image')}, {count(result.num_predictions, 'prediction')}, "
               f"{_rule(metric, iou_threshold)}; {seconds:.2f} s)")
    if interval is not None:
        click.echo(f"{metric} mAP 95 % interval {interval[0]:.4f}–{interval[1]:.4f} (bootstrap over the "
                   f"{count(result.num_images, 'image')}, {_resamples(interval, resamples)})")
        if interval[0] == interval[1]:
            _note_no_width()
    if base_result is not None and not n_cls:  # nothing to average: no mAP, so no difference (trial 20)
        click.echo(f"baseline {s.baseline_path}: {metric} mAP -")
    elif base_result is not None:
        click.echo(_difference_line(f"baseline {s.baseline_path}: {metric} mAP", result.mAP, base_result.mAP,
                                    diff_interval, resamples))
    if json_out:
        d = _set_dict(s, interval, diff_interval, resamples)
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


# the object areas of pycocotools' size ranges (COCOeval Params.areaRng), by the suffix of its numbers' names
_COCO_SIZES = {"s": "under 32²", "m": "32²–96²", "l": "over 96²"}


def _coco_stat(name: str, value: float) -> str:
    """One of pycocotools' summary numbers as printed: its ``-1`` (COCOeval's mark for a size range, or a ground
    truth, without objects to score: trial 63 printed it as ``-1.0000``) in words; ``--json`` keeps the ``-1``."""
    if value != -1:
        return f"{value:.4f}"
    size = _COCO_SIZES.get(name[-1]) if name[:2] in ("AP", "AR") and len(name) == 3 else None
    return f"n/a (no objects of this size: area {size} px)" if size else "n/a (no objects)"


def _rule(metric, iou_threshold) -> str:
    return "IoU 0.5:0.95" if metric == "coco" else (
        f"per-object IoU ≤ {iou_threshold:g}" if metric == "ilsvrc" else f"IoU ≥ {iou_threshold:g}")


def _bootstrap_dict(interval, resamples, **extra) -> dict:
    return {"resamples": resamples, "resamples_used": getattr(interval, "resamples", resamples), "level": 0.95,
            "method": "percentile", "seed": 0, **extra, "low": interval[0], "high": interval[1]}


def _resamples(interval, resamples: int) -> str:
    """How many resamples an interval was taken over, in words: those holding no positive are left out (trial 39:
    "200 resamples" was said where a third of them had been)."""
    used = getattr(interval, "resamples", resamples)
    if used == resamples:
        return f"{resamples} resamples"
    return f"{used} of {resamples} resamples: {resamples - used} held no positive, which has no mAP, and are left out"


def _set_dict(s: _Scored, interval, diff_interval, resamples) -> dict:
    """One ground truth's results as ``--json`` writes them (``mAP`` null where no class has positives)."""
    d = s.result.to_dict()
    if not s.has_map:
        d["mAP"] = d["median_AP"] = None
    if resamples:  # null: asked for, not computable (one image, no class with positives)
        d["bootstrap"] = _bootstrap_dict(interval, resamples) if interval is not None else None
    if s.base_result is not None and s.has_map:
        d["baseline"] = {"file": str(s.baseline_path), "mAP": s.base_result.mAP,
                         "difference": s.result.mAP - s.base_result.mAP}
        if diff_interval is not None:
            d["baseline"].update(low=diff_interval[0], high=diff_interval[1], beyond_noise=_verdict(diff_interval)[0])
    d["left_out"] = {"unknown_images": s.aligned.dropped_unknown_image,
                     "other_classes": s.aligned.dropped_other_class,
                     "other_categories": s.aligned.dropped_other_category}  # trial 48: noted, not counted here
    return d


def _report_several(scored: list[_Scored], read: dict, *, t0, metric, resamples, iou_threshold, json_out) -> None:
    """Several ground truths: one line each, then the mean of their mAPs (each weighs the same) and, with
    --bootstrap, its stratified interval (and the paired one of the mean difference with --baseline)."""
    err = lambda msg: click.echo(msg, err=True)
    shared = {p for p in read if sum(p in (s.pred_path, s.baseline_path) for s in scored) > 1}
    for s in scored:
        _print_file_notes(s, f"{s.gt_path}: ", skip_unknown=s.pred_path in shared)
    for path in sorted(shared, key=str):  # a file over all the sets: only what lies in none of them is left out
        _note_in_none(path, read[path], [s for s in scored if path in (s.pred_path, s.baseline_path)])
    for path, preds in read.items():
        if preds.errors:
            err(f"note: the detector could not read {count(len(preds.errors), 'image')} (listed under 'errors' in "
                f"{path})")
    _note_shared_images(scored)
    counted = [s for s in scored if s.has_map]
    for s in scored:
        if not s.has_map:
            err(f"note: {s.gt_path}: no class has positives {s.why_no_map}: left out of the mean")
    per_set = [_intervals(s, metric, resamples, iou_threshold) for s in scored]
    mean = mean_base = interval = diff_interval = None
    if counted:
        mean = float(np.mean([s.result.mAP for s in counted]))
        if counted[0].base_result is not None:
            mean_base = float(np.mean([s.base_result.mAP for s in counted]))
        if resamples and any(len(s.gt.images) >= 2 for s in counted):  # one-image sets: constants
            kw = dict(resamples=resamples, iou_threshold=iou_threshold)
            interval = mean_map_interval([dataclasses.replace(s.bootstrap_set(), baseline=None) for s in counted],
                                         metric, **kw)
            if mean_base is not None:
                diff_interval = mean_map_interval([s.bootstrap_set() for s in counted], metric, **kw)
            lone = [str(s.gt_path) for s in counted if len(s.gt.images) < 2]
            if lone:  # trial 48: a one-image set's difference, a constant, made the mean's verdict "beyond noise"
                paired = "" if mean_base is None else \
                    f" (and the difference{'s' if len(lone) > 1 else ''} from the baseline, its paired one)"
                err(f"note: {', '.join(lone)}: one image, the same in every resample: "
                    f"{'its mAP enters' if len(lone) == 1 else 'their mAPs enter'} the mean's interval{paired} "
                    "as a constant, with no variation of its own: the interval shows only the other datasets' "
                    "images' variation, narrower than the uncertainty of the mean")
        elif resamples:
            err("note: --bootstrap: no interval of the mean (every ground truth holds one image)")
    seconds = time.perf_counter() - t0

    names = [str(s.gt_path) for s in scored]
    width = max(len(x) for x in [*names, "ground truth"])
    has_base = scored[0].base is not None
    head = f"{'ground truth':<{width}}  {'mAP':>7}  {'classes':>7}  {'images':>6}  {'pred':>7}"
    if resamples:
        head += f"  {'95 % interval':>15}"
    if has_base:
        head += f"  {'baseline':>8}  {'diff':>7}" + (f"  {'paired 95 % interval':>20}" if resamples else "")
    click.echo(head)
    for name, s, (iv, div) in zip(names, scored, per_set):
        r = s.result
        cell = f"{r.mAP:.4f}" if s.has_map else "-"
        line = (f"{name:<{width}}  {cell:>7}  "
                f"{sum(c.ap is not None for c in r.per_class):>7}  {r.num_images:>6}  {r.num_predictions:>7}")
        if resamples:
            line += f"  {f'{iv[0]:.4f}–{iv[1]:.4f}' if iv else '-':>15}"
        if has_base:
            b = s.base_result.mAP
            line += (f"  {b:>8.4f}  {r.mAP - b:>+7.4f}" if s.has_map else f"  {'-':>8}  {'-':>7}")
            if resamples:
                mark = " *" if div and _verdict(div)[0] else "  "
                line += f"  {f'{div[0]:+.4f} to {div[1]:+.4f}' if div else '-':>20}{mark}"
        click.echo(line)
    if has_base and resamples and any(div and _verdict(div)[0] for _, div in per_set):
        click.echo("* more than the choice of that dataset's images explains")
    for name, (iv, _) in zip(names, per_set):
        if iv and iv[0] == iv[1]:  # trial 41: said of one --gt, not of several
            _note_no_width(f"{name}: ")
    rule = _rule(metric, iou_threshold)
    if mean is None:
        click.echo(f"{metric} mean mAP -  (no ground truth has a class with positives)")
    else:
        weighing = ", each weighing the same" if len(counted) > 1 else ""
        click.echo(f"{metric} mean mAP {mean:.4f}  (over {count(len(counted), 'dataset')}{weighing}; {rule}; "
                   f"{seconds:.2f} s)")
    if interval is not None:
        click.echo(f"{metric} mean mAP 95 % interval {interval[0]:.4f}–{interval[1]:.4f} (bootstrap, each ground "
                   f"truth's images resampled on their own, {_resamples(interval, resamples)})")
    if mean_base is not None:
        click.echo(_difference_line(f"baseline: {metric} mean mAP", mean, mean_base, diff_interval, resamples))
    if json_out:
        d = {"metric": metric, "iou_threshold": scored[0].result.iou_threshold,
             "datasets": [{"gt": str(s.gt_path), "pred": str(s.pred_path), **_set_dict(s, iv, div, resamples)}
                          for s, (iv, div) in zip(scored, per_set)],
             "mean": {"mAP": mean, "num_datasets": len(counted)}}
        if interval is not None:
            d["mean"]["bootstrap"] = _bootstrap_dict(interval, resamples, stratified=True)
        if mean_base is not None:
            d["mean"]["baseline"] = {"mAP": mean_base, "difference": mean - mean_base}
            if diff_interval is not None:
                d["mean"]["baseline"].update(low=diff_interval[0], high=diff_interval[1],
                                             beyond_noise=_verdict(diff_interval)[0])
        d["seconds"] = round(seconds, 3)
        atomic_write_json(json_out, d)
        click.echo(f"wrote {json_out}")


def _note_shared_images(scored: list[_Scored]) -> None:
    """Two ground truths holding images of the same name (a dataset and a copy or a subset of it): say so, as
    those images count in both datasets and so twice in the mean (trial 21: a copy under another path passed)."""
    names = [{Path(im.file_name).name for im in s.gt.images} for s in scored]
    for i in range(len(scored)):
        for j in range(i + 1, len(scored)):
            if shared := sorted(names[i] & names[j]):
                click.echo(f"note: {scored[i].gt_path} and {scored[j].gt_path} share {count(len(shared), 'image')} "
                           f"(e.g. {', '.join(shared[:3])}): they count in both datasets, so twice in the mean",
                           err=True)


def _note_in_none(path: Path, preds, sets: list[_Scored]) -> None:
    """For a prediction (or baseline) file shared by several ground truths: its predictions on images that none
    of them holds (the rest lie on another ground truth's images, which is no loss)."""
    aligned = [s.aligned if s.pred_path == path else s.base for s in sets]
    matched = sum(len(preds) - a.dropped_unknown_image for a in aligned)
    left = len(preds) - matched
    images = set(aligned[0].unknown_images).intersection(*(a.unknown_images for a in aligned[1:]))
    if left > 0 and images:
        click.echo(f"note: {path}: left out: {count(left, 'prediction')} on {count(len(images), 'image')} in none of "
                   f"the ground truths (e.g. {', '.join(sorted(images)[:3])})", err=True)
