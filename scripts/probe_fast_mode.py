"""Why a crops-trained member scores poorly in fast mode: one model's class probability for the ground-truth objects
of a few images, in crops mode and in fast mode on differently prepared inputs.

    python scripts/probe_fast_mode.py --gt work/split/val/pennfudan.json --images 2 [--model FILE]

Per object (its box's width / height first), the probability of its ground-truth class:

- ``crops``: the R-CNN warp (the box and its context squeezed into ``input_size``², whatever its proportions);
- ``crop as image``: that warped crop given to fast mode as a whole image, the box being the crop minus its context —
  equal to ``crops`` when the fast-mode geometry (``feature_rois``) is right;
- ``… framed``: the same crop inside a frame of the mean colour (``FRAME`` px on each side): the same pixels, but the
  crop's edges are no longer the image's edges, where the convolutions' zero padding and the pooling's borders act —
  what a region's features meet in fast mode;
- ``fast, same height``: fast mode on the whole image scaled so that the box's longer side is as long as in its crop
  (proportions kept, as fast mode always keeps them);
- ``… blanked``: the same with everything beyond the box and its context set to the mean colour;
- ``fast, squeezed``: fast mode on the image scaled anisotropically so that the box is square, as in its crop.

Prints one line per object. README, "Fast mode with the distilled classifier", reports what it showed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from detector.classifier import load_ensemble
from detector.data.images import load_image
from detector.data.readers import read_dataset
from detector.nn.transforms import normalize_image
from detector.regions import warp_regions

ROOT = Path(__file__).resolve().parents[1]
FRAME = 48  # px of mean colour around a crop for the "framed" column: three 16-px trunk cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", type=Path, required=True, help="ground truth (any format detect eval reads)")
    ap.add_argument("--images", type=int, default=2, help="first N images of it")
    ap.add_argument("--model", type=Path, default=ROOT / "detector" / "models" / "default" / "member0.pt")
    a = ap.parse_args()
    member = load_ensemble([a.model])[0]
    model = member.model.eval()
    size, pad = member.spec.input_size, member.spec.context_pad
    inner = float(size - 2 * pad)  # the box's side inside its crop, in crop pixels
    ds = read_dataset(a.gt)
    class_of = {c.key: j for j, c in enumerate(member.classes)}
    print(f"box w/h | crops | crop as image | … framed ({FRAME} px) | fast, same height | … blanked | fast, squeezed")
    with torch.inference_mode():
        for im in ds.images[: a.images]:
            img = normalize_image(np.asarray(load_image(im.path)), member.spec.mean, member.spec.std, "cpu")
            boxes = torch.as_tensor(np.asarray(im.boxes, np.float32))
            crops = warp_regions(img, boxes, member.spec.warp)
            crop_probs = member.probabilities(model.forward_with_boxes(crops)[0])
            h, w = img.shape[-2:]
            for k, (box, label) in enumerate(zip(boxes, im.labels)):
                j = class_of.get(ds.classes[int(label)].key)
                if j is None:
                    continue
                col = j + 1  # column 0 is background

                def fast(image: torch.Tensor, b: torch.Tensor, col: int = col) -> float:
                    return float(member.probabilities(model.forward_fast(image, b[None])[0])[0, col])

                inside = torch.tensor([pad, pad, size - pad, size - pad], dtype=torch.float32)
                as_image = fast(crops[k], inside)
                framed = fast(F.pad(crops[k], (FRAME,) * 4), inside + FRAME)
                bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
                s = inner / max(bw, bh)
                same = F.interpolate(img[None], size=(round(h * s), round(w * s)), mode="bilinear",
                                     align_corners=False)[0]
                x1, y1, x2, y2 = (int(v) for v in box * s)
                blanked = torch.zeros_like(same)
                ys, xs = slice(max(0, y1 - pad), y2 + pad), slice(max(0, x1 - pad), x2 + pad)
                blanked[:, ys, xs] = same[:, ys, xs]
                sx, sy = inner / bw, inner / bh
                squeezed = F.interpolate(img[None], size=(round(h * sy), round(w * sx)), mode="bilinear",
                                         align_corners=False)[0]
                print(f"{bw / bh:.2f} | {float(crop_probs[k, col]):.3f} | {as_image:.3f} | {framed:.3f} | "
                      f"{fast(same, box * s):.3f}"
                      f" | {fast(blanked, box * s):.3f} | {fast(squeezed, box * box.new_tensor([sx, sy, sx, sy])):.3f}")


if __name__ == "__main__":
    main()
