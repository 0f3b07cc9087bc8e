"""``detect merge``: combine the outputs of ``detect run --shard I/N`` into one file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from detector.data.parts import MergeError, merge_outputs

from .common import write_detections


@click.command("merge")
@click.argument("parts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="boxes.json", show_default=True,
              help="Merged output (written atomically).")
@click.option("--allow-partial", is_flag=True, help="Merge even if some shards are missing (listed in job).")
@click.option("--format", "out_format", type=click.Choice(["json", "coco", "ilsvrc"]), default="json",
              show_default=True, help="Output form, as in `detect run`.")
def merge_cmd(parts, out, allow_partial, out_format):
    """Combine shard outputs PARTS (boxes.json files of `detect run --shard I/N`) into the file one run over all
    the images would have written. Refuses parts of different jobs or splits, a shard given twice, overlapping
    images, and missing shards."""
    docs = []
    for p in parts:
        try:
            docs.append((str(p), json.loads(p.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise click.ClickException(f"{p}: not a readable boxes.json ({e})") from None
    try:
        doc = merge_outputs(docs, allow_partial=allow_partial)
    except MergeError as e:
        raise click.ClickException(str(e)) from None
    write_detections(out, doc, out_format)
    click.echo(f"{len(parts)} parts → {out}: {len(doc['images'])} images, {len(doc['detections'])} detections, "
               f"{len(doc['errors'])} errors" + (f"; missing shards {', '.join(doc['job']['missing_shards'])}"
                                                  if "missing_shards" in doc["job"] else ""))
