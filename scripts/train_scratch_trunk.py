"""The from-scratch trunk the distilled one is compared with (model card): the same GoogLeNet trained with labels,
no teacher, on the labelled photos only (Imagenette's 10 classes; ``<wnid>/`` folders), with the same views as
distillation (random-resized crop, flip, colour jitter; no mixing, which needs soft targets) and the same optimiser.

    python scripts/train_scratch_trunk.py --photos ../shared/data/imagenette_subset/train --out work/scratch_trunk.pt \\
        --width 0.5 --input-size 112 --epochs 30
    python scripts/evaluate_distilled.py --model work/distill/student.pt --model work/scratch_trunk.pt \\
        --set imagenette=../shared/data/imagenette_subset/val

The 1,000-way head is trained with cross-entropy on the photos' ImageNet labels, so that its 10-way accuracy on the
Imagenette validation photos is read exactly as the distilled trunk's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from detector.classifier import build_classifier, save_member
from detector.data.images import list_images
from detector.data.vocab import ilsvrc_categories
from detector.distill import DistillConfig, DistillViews, ImageStore, photo_items, student_input, student_spec
from detector.nn.inception import GoogLeNetOutputs
from detector.nn.loop import OptimConfig, Task, fit


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, required=True, help="labelled photos (<wnid>/ folders)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--input-size", type=int, default=112)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    items = [it for it in photo_items(list_images(args.photos)) if it.label >= 0]
    if not items:
        raise SystemExit(f"{args.photos}: no photo with an ImageNet label (<wnid>/ folders or <wnid>_… names)")
    spec = student_spec("paper-bn", args.width, args.input_size)
    config = DistillConfig(batch_size=args.batch_size, mix="none", workers=1)
    store = ImageStore(items, config.max_side)
    data = DistillViews(store, config, 0, spec.input_size)
    labels = torch.tensor([it.label for it in store.items])
    torch.manual_seed(0)
    model = build_classifier(spec)

    def batches(epoch, rank, world):
        data.epoch = epoch
        order = data.epoch_order(epoch).tolist()
        return [order[s : s + config.batch_size] for s in range(0, len(order) - config.batch_size + 1,
                                                                   config.batch_size)]

    def loss(net, idx, dev):
        x = student_input(torch.stack([data[i] for i in idx]), spec)
        y = labels[idx]
        out = net(x)
        if isinstance(out, GoogLeNetOutputs):
            parts = {"ce": F.cross_entropy(out.logits, y),
                     "aux": 0.3 * (F.cross_entropy(out.aux1, y) + F.cross_entropy(out.aux2, y))}
        else:
            parts = {"ce": F.cross_entropy(out, y)}
        return sum(parts.values()), {k: float(v.detach()) for k, v in parts.items()}

    def save(m, path, meta):
        save_member(path, m, spec, ilsvrc_categories(), train={**meta, "distilled": False, "supervised": True})

    optim = OptimConfig(epochs=args.epochs, optimizer="adamw", lr=args.lr, weight_decay=0.05, schedule="cosine",
                        warmup_iters=100)
    state = fit(model, Task(batches=batches, loss=loss, save=save, examples=len, name="scratch trunk"), optim,
                args.out, amp=False, metadata={"photos": str(args.photos), "images": len(items)})
    print(f"wrote {args.out}: {len(items)} photos, {state.epoch} epochs, last loss {state.history[-1]['loss']:.3f}, "
          f"{sum(r['seconds'] for r in state.history) / 60:.1f} min")


if __name__ == "__main__":
    main()
