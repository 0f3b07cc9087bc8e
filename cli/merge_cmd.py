"""``detect merge``: combine the outputs of ``detect run --shard I/N`` into one file."""

from __future__ import annotations

from pathlib import Path

import click

from detector.data import boxes_json
from detector.data.coco import coco_gt_ids
from detector.data.vocab import Category
from detector.engines import setting_unused, shown_setting
from detector.nn.options import option_flag

from .common import OutFile, check_beside_out, classes_not_in_gt, count, none_used_error, written_count


@click.command("merge")
@click.argument("parts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=OutFile("boxes.json"), default="boxes.json", show_default=True,
              help="Merged output (written atomically; an existing file is replaced only when it is an earlier "
                   "output: boxes.json, COCO results or ILSVRC text).")
@click.option("--allow-partial", is_flag=True, help="Merge even if some shards are missing (listed in job).")
@click.option("--format", "out_format", type=click.Choice(boxes_json.OUTPUT_FORMATS), default="json",
              show_default=True, help="Output form, as in `detect run`.")
@click.option("--coco-gt", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --format coco: the COCO ground truth whose image and category ids the results take, as "
                   "`detect run --coco-gt` (an image of the parts not in it is refused).")
def merge_cmd(parts, out, allow_partial, out_format, coco_gt):
    """Combine shard outputs PARTS (boxes.json files of `detect run --shard I/N`) into the file one run over all
    the images would have written. Refuses parts of different jobs or splits, a shard given twice, overlapping
    images, and missing shards."""
    if out.resolve() in {p.resolve() for p in parts}:  # as detect run refuses an --out that replaces an input
        raise click.ClickException(f"--out {out} is one of the parts being merged: choose another file")
    if coco_gt is not None and any(path.resolve() == coco_gt.resolve()
                                   for path, _ in boxes_json.output_paths(out, out_format)):  # trial 57: replaced
        raise click.ClickException(f"--out {out} is the --coco-gt file {coco_gt}, which this merge reads: it would be "
                                   "replaced")
    check_beside_out(out, out_format)
    try:
        if coco_gt is not None and out_format != "coco":
            raise click.UsageError("--coco-gt gives a COCO results file the ground truth's ids: use it with "
                                   "--format coco")  # an option mistake: status 2, as the others (trial 30)
        doc = boxes_json.merge_outputs([(str(p), boxes_json.read_document(p)) for p in parts],
                                       allow_partial=allow_partial, shown=shown_setting,
                                       unused=setting_unused, named=option_flag)
        ids = coco_gt_ids(coco_gt, [im["file_name"] for im in doc["images"]],
                          {im["file_name"]: (im["width"], im["height"]) for im in doc["images"]
                           if "width" in im and "height" in im}) if coco_gt is not None else None
        settings = doc["job"].get("settings") if isinstance(doc["job"].get("settings"), dict) else {}
        if ids is not None and settings.get("classes") is not None:  # the parts' categories are those classes
            lacking = ids.lacking([Category(str(c["name"]), c.get("wnid") or None) for c in doc["categories"]])
            if lacking:
                raise click.ClickException(classes_not_in_gt(ids, lacking, "the parts were run with --classes"))
        written = boxes_json.write(out, doc, out_format, coco_gt=ids)
    except (boxes_json.BoxesJsonError, boxes_json.MergeError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot write {e.filename or out}: {e.strerror or e}") from None
    click.echo(f"{count(len(parts), 'part')} → {out}: {count(len(doc['images']), 'image')}, "
               f"{written_count(doc, written, out_format, ids)}, {count(len(doc['errors']), 'error')}"
               + (f"; missing shards {', '.join(doc['job']['missing_shards'])}" if "missing_shards" in doc["job"]
                  else ""))
    if doc["errors"] and not doc["images"]:  # as `detect run` over all the images would have ended (trial 39)
        raise none_used_error(len(doc["errors"]), out, out_format, named="listed under 'errors' in the parts")
