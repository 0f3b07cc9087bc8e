"""Per-stage timing of the detection pipeline on real images — crops mode (the paper's) and fast mode, 1 and 3
members — beside torchvision's Faster R-CNN R50-FPN and MobileNetV3-FPN, with the CNN stage's achieved GFLOP/s as
a fraction of a large matrix multiply's, all in one run.

    python benchmarks/bench_pipeline.py --images work/split/val/pennfudan.txt --limit 3 \
        [--model detector/models/default] [--fast-model FILE] [--device cuda]

Per image: selective search (fast, scale 2, one process; read from --cache-dir instead when given and cached, then
reported as cached), and for each configuration the classify stage (warping + CNN in crops mode; trunk + pooling +
tail in fast mode, for every member) and NMS, measured inside ``Detector.detect`` on the same proposals. End to end
= selective search + classify + NMS, one image after another in one process. Members beyond the given model are
copies with other random weights (same architecture, so the same cost). ``--fast-model`` times a trained fast-mode
member; without it the given model's weights run in fast mode (same cost). The CNN's floating-point operations are
counted with ``torch.utils.flop_counter.FlopCounterMode`` over the images on the PyTorch path (2 per multiply-add) and divided by the
classify time. The full-size row times the paper's GoogLeNet (224 px, full width, random weights) on the first
--full-regions regions of each image and scales to all regions by the per-region cost (said so in the table).
On CUDA the networks run under bfloat16 autocast (``--no-amp`` for float32) and the matrix multiply is reported in
both float32 and bfloat16. Prints Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `detect` runs (cli/__init__.py): set before torch loads
# OpenMP, or its threads busy-wait beside the selective-search workers (measured: the fast preset 3.5 against
# 4.5 images/s when torch was imported first)

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from detector.classifier import ClassifierSpec, Member, build_classifier, load_ensemble
from detector.data.images import list_images, load_image
from detector.nn.device import resolve_device
from detector.pipeline import Detector
from proposals.selective_search import SelectiveSearchConfig, selective_search_many


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(device, dtype, n=4096, reps=5) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def copies(base: Member, n: int, spec: ClassifierSpec | None = None) -> list[Member]:
    spec = spec or base.spec
    out = [Member(base.model, spec, base.classes, base.train, base.path)]
    for seed in range(1, n):
        torch.manual_seed(seed)
        out.append(Member(build_classifier(spec).eval(), spec, base.classes, {}))
    return out


def time_config(members, images, proposals, args, device, flops_on_first=True):
    det = Detector(None, members, batch_size=args.batch_size, max_proposals=args.max_proposals, device=device,
                   amp=args.amp, backend=args.backend)
    warm = len(images) if device.type == "cuda" else 1  # GPU: every shape once (allocator, kernels)
    for img, props in list(zip(images, proposals))[:warm]:
        det.detect(img, proposals=props)
    classify, nms, flops = [], [], 0
    for _ in range(args.reps):
        for img, props in zip(images, proposals):
            d = det.detect(img, proposals=props)
            classify.append(d.timings["classify"])
            nms.append(d.timings["nms"])
    if flops_on_first:  # counted on the PyTorch path (ONNX Runtime's work is invisible to the counter; it is the same)
        counter = Detector(None, members, batch_size=args.batch_size, max_proposals=args.max_proposals,
                           device=device, amp=args.amp, backend="torch")
        with FlopCounterMode(display=False) as fc:
            for img, props in zip(images, proposals):
                counter.detect(img, proposals=props)
        flops = fc.get_total_flops() / len(images)
    return float(np.mean(classify)), float(np.mean(nms)), flops


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True, help="folder, image or list file")
    ap.add_argument("--limit", type=int, default=3)
    ap.add_argument("--model", type=Path, default=Path("detector/models/default"))
    ap.add_argument("--fast-model", type=Path, default=None, help="a trained fast-mode member (default: --model "
                    "in fast mode)")
    ap.add_argument("--max-proposals", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-amp", dest="amp", action="store_false", help="float32 on CUDA (default: bf16 autocast)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="read proposals from this cache when there")
    ap.add_argument("--full-regions", type=int, default=64, help="regions per image for the full-size crops row")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                    help="CPU runtime of the networks, as detect run --backend")
    ap.add_argument("--reps", type=int, default=1, help="timed passes over the images (after the warm-up)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    paths = list_images(args.images)[: args.limit]
    images = [load_image(p) for p in paths]

    cache = None
    if args.cache_dir is not None:
        from proposals.cache import ProposalCache

        cache = ProposalCache(args.cache_dir)
    ss_cfg = SelectiveSearchConfig(scale=2.0)
    proposals, ss_times, cached = [], [], 0
    for r in selective_search_many([str(p) for p in paths], ss_cfg, workers=0, cache=cache):
        if not r.ok:
            raise SystemExit(r.error)
        proposals.append(r.boxes[: args.max_proposals])
        ss_times.append(r.seconds)
        cached += r.cached
    ss = float(np.mean(ss_times))
    n_regions = float(np.mean([len(p) for p in proposals]))

    base = load_ensemble([args.model])[0]
    fast_base = load_ensemble([args.fast_model])[0] if args.fast_model else base
    fast_spec = fast_base.spec if fast_base.spec.mode == "fast" else dataclasses.replace(base.spec, mode="fast")
    configs = [("crops", 1, copies(base, 1)), ("crops", 3, copies(base, 3)),
               ("fast", 1, copies(fast_base, 1, fast_spec)), ("fast", 3, copies(fast_base, 3, fast_spec))]
    results = {}
    for mode, n, members in configs:
        results[(mode, n)] = time_config(members, images, proposals, args, device)

    full_spec = ClassifierSpec(arch="paper", num_classes=base.spec.num_classes, input_size=224, width=1.0)
    torch.manual_seed(0)
    full = Member(build_classifier(full_spec).eval(), full_spec, base.classes, {})
    few = [p[: args.full_regions] for p in proposals]
    full_crops = time_config([full], images, few, args, device)
    per_region = full_crops[0] / max(np.mean([len(p) for p in few]), 1)
    full_fast = time_config([Member(full.model, dataclasses.replace(full_spec, mode="fast"), base.classes, {})],
                            images, proposals, args, device)

    peers = {}
    if not args.no_peers:
        from torchvision.models import detection as tvd

        for name, ctor in (("Faster R-CNN R50-FPN", tvd.fasterrcnn_resnet50_fpn),
                           ("Faster R-CNN MobileNetV3-Large-FPN", tvd.fasterrcnn_mobilenet_v3_large_fpn)):
            model = ctor(weights=None, weights_backbone=None).eval().to(device)
            ts = []
            with torch.inference_mode():
                warm = images if device.type == "cuda" else images[:1]
                for i, img in enumerate(warm + images * args.reps):
                    x = torch.from_numpy(img).permute(2, 0, 1).float().div(255.0).to(device)
                    sync(device)
                    t = time.perf_counter()
                    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda" and args.amp):
                        model([x])
                    sync(device)
                    if i >= len(warm):
                        ts.append(time.perf_counter() - t)
            peers[name] = float(np.mean(ts))

    fp32 = matmul_gflops(device, torch.float32)
    bf16 = matmul_gflops(device, torch.bfloat16) if device.type == "cuda" else None

    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"
    amp = "bf16 autocast" if device.type == "cuda" and args.amp else "float32"
    if device.type == "cpu":
        from detector.nn.onnx import onnx_available

        amp += ", " + ("ONNX Runtime" if args.backend == "onnx" or (args.backend == "auto" and onnx_available())
                       else "PyTorch (channels-last)")
    print(f"device: {dev_name}; torch {torch.__version__}; {amp}; {len(images)} images from {args.images}; "
          f"model {args.model} ({base.spec.arch}, {base.spec.input_size} px, width {base.spec.width}); "
          f"{n_regions:.0f} regions/image; fast mode at short side {fast_spec.fast_short_side} "
          f"(long side ≤ {fast_spec.fast_max_side})")
    print(f"matrix multiply 4096³: {fp32:.0f} GFLOP/s float32" + (f", {bf16:.0f} GFLOP/s bf16" if bf16 else ""))
    peak = bf16 if (bf16 and args.amp) else fp32
    print()
    ss_label = f"selective search ({'cached, ' if cached == len(images) else ''}fast, scale 2, 1 process)"
    print(f"{ss_label}: {ss:.2f} s/image")
    print()
    print("| configuration | classify s/img | NMS s/img | end to end s/img | images/s | CNN GFLOP/s | "
          "share of matmul |")
    print("|---|---|---|---|---|---|---|")
    for (mode, n), (c, nm, flops) in results.items():
        e2e = ss + c + nm
        g = flops / c / 1e9 if c else float("nan")
        print(f"| {mode}, {n} member{'s' if n > 1 else ''} | {c:.3f} | {nm:.3f} | {e2e:.2f} | {1 / e2e:.3f} | "
              f"{g:.1f} | {g / peak:.0%} |")
    c, _, flops = full_crops
    g = flops / c / 1e9
    print(f"| full-size GoogLeNet (224 px), crops, 1 member — {per_region * 1000:.1f} ms/region × {n_regions:.0f} "
          f"regions | {per_region * n_regions:.2f} | – | {ss + per_region * n_regions:.2f} | "
          f"{1 / (ss + per_region * n_regions):.3f} | {g:.1f} | {g / peak:.0%} |")
    c, nm, flops = full_fast
    g = flops / c / 1e9
    print(f"| full-size GoogLeNet (224 px), fast, 1 member | {c:.3f} | {nm:.3f} | {ss + c + nm:.2f} | "
          f"{1 / (ss + c + nm):.3f} | {g:.1f} | {g / peak:.0%} |")
    for name, t in peers.items():
        print(f"| torchvision {name} (random weights, whole detector) | – | – | {t:.2f} | {1 / t:.3f} | – | – |")
    print()
    for n in (1, 3):
        cr, fa = results[("crops", n)], results[("fast", n)]
        print(f"{n} member(s): fast / crops classify-stage speed-up {cr[0] / fa[0]:.1f}×; end to end "
              f"{(ss + cr[0] + cr[1]) / (ss + fa[0] + fa[1]):.1f}×")
    print(f"full-size GoogLeNet: fast / crops classify-stage speed-up {per_region * n_regions / full_fast[0]:.0f}×")


if __name__ == "__main__":
    main()
