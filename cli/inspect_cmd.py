"""``detect inspect``: what is in an annotation set, and what is wrong with it; or what a model file holds."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from detector.classifier import CheckpointError, file_format, load_ensemble
from detector.data.io import atomic_write_json, binary_kind, model_files_in
from detector.data.summary import check_image_files, summarize
from detector.nn.checkpoint import MULTIBOX_FORMAT

from .common import (OutFile, count, dataset_files, format_option, images_option, load_dataset, refuse_binary_outputs,
                     refuse_replacing_inputs)

MAX_PROBLEMS_SHOWN = 20


@click.command("inspect")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@format_option
@images_option
@click.option("--image-list", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="ILSVRC evaluation list ('name index' lines): read only these images, numbered by it.")
@click.option("--no-image-check", is_flag=True, help="Do not open image files (skips missing/size checks).")
@click.option("--decode", is_flag=True,
              help="Decode every image as training reads it (slower than the header check: finds truncated or "
                   "damaged files).")
@click.option("--json", "json_out", type=OutFile("report.json"), default=None,
              help="Also write the report as JSON to this file.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any problem is found.")
def inspect_cmd(path, fmt, images, image_list, no_image_check, decode, json_out, strict):
    """Count images, boxes and classes in an annotation set and list its problems.

    PATH is a COCO JSON (or a folder with one), a folder of ILSVRC or PASCAL VOC XML (VOC layout or flat),
    Penn-Fudan annotations, YOLO labels (a data.yaml: its val split; an images or labels folder: that split), or
    LabelMe JSON (a folder of them, or one). Problems (files that cannot be read, malformed files, inverted or
    zero-area boxes, boxes outside the image, unknown classes, a VOC <filename> other than the annotation file's
    name, missing or mis-sized image files) are listed, not fatal.

    PATH may also be a model: a member file of `detect train` or a folder of members (`detect run --model`'s); then
    each member's network, mode, input and training, and the classes it detects (the names `detect run --classes`
    takes) are listed.
    """
    refuse_replacing_inputs({"--json": json_out}, [path, image_list])
    if fmt == "auto" and _is_model(path):
        if image_list or images or no_image_check or decode or strict:
            raise click.UsageError(f"{path} is a model: --images, --image-list, --no-image-check, --decode and "
                                   "--strict are for annotation sets")
        return _inspect_model(path, json_out)
    ds = load_dataset(path, fmt, images=images, image_list=image_list, strict=False)
    refuse_replacing_inputs({"--json": json_out}, dataset_files(ds))
    refuse_binary_outputs({"--json": json_out})  # after the checks naming an input it would replace
    image_problems = []
    if decode and no_image_check:
        raise click.UsageError("--decode checks the image files, which --no-image-check skips: give one of them")
    if not no_image_check and len(ds):
        for probs in tqdm(check_image_files(ds, decode), total=len(ds), desc="checking images", unit="img",
                          disable=None, leave=False):
            image_problems.extend(probs)
    s = summarize(ds, image_problems)

    out = click.echo
    out(f"{s.source}  ({s.format}{f', split {s.split}' if s.split else ''})")
    out(f"  images                {s.images:>8}")
    out(f"  boxes                 {s.boxes:>8}")
    out(f"  images without boxes  {len(s.images_without_boxes):>8}")
    if s.difficult:
        out(f"  difficult boxes       {s.difficult:>8}")
    if s.crowd:
        out(f"  crowd boxes           {s.crowd:>8}")
    bs = s.box_sizes
    out(f"  box sizes             small {bs['small']} · medium {bs['medium']} · large {bs['large']}"
        "  (area < 32², < 96², ≥ 96²)")
    out(f"  classes               {len(s.classes):>8}")
    width = max((len(n) for n in s.classes), default=0)
    for name, n in s.classes.items():
        out(f"    {name:<{width}}  {n:>7}")
    out(f"  problems              {len(s.problems):>8}")
    for p in s.problems[:MAX_PROBLEMS_SHOWN]:
        out(f"    [{p.severity}] {p}")
    if len(s.problems) > MAX_PROBLEMS_SHOWN:
        more = len(s.problems) - MAX_PROBLEMS_SHOWN
        out(f"    … and {more} more" + (f" (all in {json_out})" if json_out else " (use --json to get them all)"))
    if json_out:
        atomic_write_json(json_out, s.to_dict())
        out(f"wrote {json_out}")
    if strict and s.problems:
        raise SystemExit(1)


def _is_model(path: Path) -> bool:
    """Whether ``path`` is a PyTorch file (a model) or a folder holding ``*.pt`` files, not annotations."""
    if path.is_dir():
        if model_files_in(path):
            return True
        try:  # *.pth alone (PyTorch's other suffix, which a model folder does not take: its error says so), beside
            # nothing an annotation set is made of (trial 63: "no … annotation found here; pass --format")
            suffixes = {f.suffix.lower() for f in path.iterdir()}
        except OSError:
            return False
        return ".pth" in suffixes and not suffixes & {".json", ".xml", ".txt", ".yaml", ".yml"}
    if path.suffix.lower() in (".pt", ".pth", ".ckpt") and path.is_file():  # trial 57: an empty or damaged model
        return True  # file read "cannot tell the annotation format"; as a model it is named for what it is
    try:
        with open(path, "rb") as f:
            kind = binary_kind(f.read(32))
    except OSError:
        return False
    return bool(kind and kind.startswith("a PyTorch file"))


def _inspect_model(path: Path, json_out: Path | None) -> None:
    """Print (and with ``json_out`` write) what the model at ``path`` is: its members and its classes (a MultiBox
    proposal network: :func:`_inspect_multibox`)."""
    if path.is_file() and file_format(path) == MULTIBOX_FORMAT:
        return _inspect_multibox(path, json_out)
    if path.is_dir() and not (path / "ensemble.json").is_file():
        files = model_files_in(path)  # a folder of one MultiBox network (proposals/models), described as that file
        # is (trial 63: "multibox.pt left out", then "no region-classifier model file")
        if len(files) == 1 and file_format(files[0]) == MULTIBOX_FORMAT:
            return _inspect_multibox(files[0], json_out)
    try:
        members = load_ensemble([path])  # as `detect run --model` reads it: a folder whose members differ in their
        # classes, or hold one file twice, is refused as the run refuses it (trial 57: listed as a model, exit 0)
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    # trial 57: `detect inspect DIR --json DIR/member0.pt` replaced the member file with the JSON report
    refuse_replacing_inputs({"--json": json_out}, [m.path for m in members] +
                            ([path / "ensemble.json"] if path.is_dir() else []))
    refuse_binary_outputs({"--json": json_out})
    out = click.echo
    out(f"{path}  (a model: {len(members)} member{'s' if len(members) != 1 else ''})")
    rows = []
    for m in members:
        s, t = m.spec, m.train or {}
        cfg = t.get("config") or {}
        mode = (f"fast mode (images at short side {s.fast_short_side}, long side at most {s.fast_max_side})"
                if s.mode == "fast" else f"crops mode ({s.input_size} px regions, {s.context_pad} px context)")
        outputs = ("1,000 ImageNet outputs summed onto the classes" if s.class_map
                   else f"{count(s.num_classes - 1, 'class', 'classes')} + background")  # not "1 classes" (trial 65)
        trained = ", ".join(x for x in (count(t['epoch'], 'epoch') if t.get("epoch") else "",
                                        f"seed {cfg['seed']}" if "seed" in cfg else "",
                                        f"from {t['init']}" if t.get("init") else "") if x)
        size = m.path.stat().st_size / 1e6
        out(f"  {m.path.name}  {s.arch}, width {s.width:g}, input {s.input_size} px · {mode} · {outputs}"
            f"{' · box regression' if s.bbox_reg else ''} · {size:.1f} MB" + (f" · trained: {trained}" if trained
                                                                                else ""))
        rows.append({"file": str(m.path), "spec": s.to_dict(), "train": t, "bytes": m.path.stat().st_size})
    classes = members[0].classes
    out(f"  classes               {len(classes):>8}")
    width = max((len(c.name) for c in classes), default=0)
    for k, c in enumerate(classes, start=1):
        out(f"    {k:>3}  {c.name:<{width}}  {c.wnid or ''}")
    if json_out:
        atomic_write_json(json_out, {"model": str(path), "members": rows,
                                     "classes": [{"label": k, **c.to_dict()} for k, c in enumerate(classes, 1)]})
        out(f"wrote {json_out}")


def _inspect_multibox(path: Path, json_out: Path | None) -> None:
    """Print (and with ``json_out`` write) what the MultiBox network at ``path`` is: K priors (the boxes it proposes
    per image), its input, width and training; it is given to `detect run --multibox`, not --model."""
    from proposals.multibox import load_multibox

    try:
        model, ckpt = load_multibox(path)
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    refuse_replacing_inputs({"--json": json_out}, [path])
    refuse_binary_outputs({"--json": json_out})
    c, t = model.config, ckpt.get("train") or {}
    cfg = t.get("config") or {}
    trained = ", ".join(x for x in (count(t["epoch"], "epoch") if t.get("epoch") else "",
                                    f"seed {cfg['seed']}" if "seed" in cfg else "",
                                    f"from {t['init']}" if t.get("init") else "") if x)
    size = path.stat().st_size
    click.echo(f"{path}  (a MultiBox proposal network: give it to `detect run --multibox`, not --model)")
    click.echo(f"  {c.num_priors} boxes an image (K priors) · input {c.input_size} px · width {c.width:g}"
               f"{', batch norm' if c.batch_norm else ''} · {size / 1e6:.1f} MB"
               + (f" · trained: {trained}" if trained else ""))
    if json_out:
        atomic_write_json(json_out, {"model": str(path), "multibox": {"config": c.to_dict(), "train": t,
                                                                      "bytes": size}})
        click.echo(f"wrote {json_out}")
