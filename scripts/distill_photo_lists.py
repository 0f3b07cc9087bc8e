"""The photo lists of the bundled distillation (scripts/train_default_model.sh):

    python scripts/distill_photo_lists.py --data ../shared/data --out work/distill

writes ``photos_train.txt`` (the ImageNet samples not held out, and every Imagenette training photo),
``photos_val_inet.txt`` (the held-out ImageNet samples: about 20 %, by a hash of the file name, as
``detector.distill.heldout``) and ``photos_val_nette.txt`` (the Imagenette validation photos).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.data.images import list_images
from detector.distill import heldout, photo_items


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    keep, held = heldout(photo_items(list_images(args.data / "imagenet_samples")), 0.2)
    nette_train = list_images(args.data / "imagenette_subset" / "train")
    nette_val = list_images(args.data / "imagenette_subset" / "val")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, paths in (("photos_train.txt", [it.path for it in keep] + nette_train),
                        ("photos_val_inet.txt", [it.path for it in held]), ("photos_val_nette.txt", nette_val)):
        (args.out / name).write_text("".join(f"{Path(p).resolve()}\n" for p in paths))
        print(f"{args.out / name}: {len(paths)} photos")


if __name__ == "__main__":
    main()
