"""bf16 autocast against float32 on CUDA, crops and fast mode, the bundled model's weights, 2,000 random boxes on a
sample image: milliseconds per image and the largest difference in class probability.

    python benchmarks/gpu_amp_check.py      (from the repository root; CPU when there is no GPU)
"""
import argparse
argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()), epilog="No options.").parse_args()
import dataclasses, time
import numpy as np, torch
from detector.classifier import Member, build_classifier, load_member, load_member_weights
from detector.data.images import load_image
from detector.pipeline import Detector
dev = "cuda" if torch.cuda.is_available() else "cpu"
img = load_image("samples/images/" + __import__("os").listdir("samples/images")[0])
h, w = img.shape[:2]
rng = np.random.default_rng(0)
xy = rng.uniform(0, 1, (2000, 2)) * [w, h]
boxes = np.concatenate([xy, np.minimum(xy + rng.uniform(0.05, 0.6, (2000, 2)) * [w, h], [w, h])], 1).astype(np.float32)
crops = load_member("detector/models/default/member0.pt")
spec = dataclasses.replace(crops.spec, mode="fast")
model = build_classifier(spec); load_member_weights(model, spec, crops.path)
fast = Member(model.eval(), spec, crops.classes, crops.train)
for name, m in [("crops", crops), ("fast", fast)]:
    ref, _ = Detector(None, [m], device=dev, amp=False, batch_size=256).score_regions(img, torch.from_numpy(boxes).to(dev))
    for amp in (False, True):
        det = Detector(None, [m], device=dev, amp=amp, batch_size=256)
        p, _ = det.score_regions(img, torch.from_numpy(boxes).to(dev))
        det.detect(img, boxes)
        t = time.perf_counter(); [det.detect(img, boxes) for _ in range(5)]
        print(f"{name} amp={amp}: {(time.perf_counter() - t) / 5 * 1000:.1f} ms/image (2000 boxes), "
              f"max |p - p_fp32| {float((p - ref).abs().max()):.4f}, dtype {p.dtype}")
