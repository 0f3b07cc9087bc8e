"""End-to-end speed of `detect run`'s presets and modes, 1 and 3 members, with each configuration's validation mAP
beside it and torchvision's Faster R-CNN peers timed on the same images, in one run; then how time and peak memory
grow with the proposals of one image and with the number of images.

    python benchmarks/bench_presets.py --images work/split/val/pennfudan.txt --limit 12 --val-results work/eval \\
        [--scaling-images ../shared/data/imagenet_samples] [--device cuda]

Each configuration runs the library's pipeline as `detect run` does (``detector.engines.DetectionJob``: the
proposer's selective search in worker processes ahead of the classifier, cores split as the local engine splits
them, the proposal cache OFF so that proposals are really computed), over the same images in one stream after one
warm-up image (the steady state of a long job: worker processes started, the clock started once the warm-up image is
out; until this round each configuration's selective-search pool was started inside the timed loop); reported:
seconds per image of each stage summed over images (proposals inside the workers, classify, NMS) and the wall-clock
images/s of the whole loop (decode, proposals, classifier, NMS, records). The 3-member rows are the
member of that mode and 2 copies with other random weights (the same architecture, so the same cost; their mAP is
not measured). The
validation mAP is read from ``--val-results`` (``scripts/evaluate_default_model.sh`` outputs
``ours_<tag>_<set>.json``; tags ``<preset>_<mode>``: ``paper_mixed``, ``paper_crops``, ``paper_fast``,
``fast_mixed``, ``fast_crops``, ``fast_fast``): the mean over the validation sets of the ILSVRC-metric mAP over the
classes the model knows. "mixed" is the model as it is when its members differ in mode (the bundled ensemble: a
crops-mode and a fast-mode member, each run in its own); ``--mode crops|fast`` runs the member trained in that mode.

``--candidates ROUNDS`` times only the fast preset's alternatives (:data:`CANDIDATES`), each round followed by the
MobileNetV3 peer, and prints medians (how the preset was chosen).

Peers: torchvision ``fasterrcnn_resnet50_fpn`` and ``fasterrcnn_mobilenet_v3_large_fpn`` (random weights: the cost is
the same), decode + the whole detector, one image after another, all cores, each in a fresh process with OpenMP's
default waiting policy (ours runs with ``OMP_WAIT_POLICY=PASSIVE``, as ``detect`` sets it). The CNN's share of a
4096³ float32 matrix multiply: floating-point operations of the classify stage (``torch.utils.flop_counter``) over
its seconds.
Scaling: classify time and the process's peak memory (``ru_maxrss``, a fresh process per point) for 250 … 4,000
random proposals on one image in each mode; and the fast preset end to end over 10, 100 and 1,000 images. Prints
Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `detect` runs (cli/__init__.py): set before torch loads
# OpenMP, or its threads busy-wait beside the selective-search workers (measured: the fast preset 3.5 against
# 4.5 images/s when torch was imported first)

import numpy as np
import torch

from cli.run_cmd import apply_preset, default_model_paths, from_options, run_cmd
from detector.classifier import Member, build_classifier, load_ensemble
from detector.data.images import list_images, load_image
from detector.engines import DetectionJob, split_cores
from detector.nn.device import resolve_device

ROOT = Path(__file__).resolve().parents[1]
SETS = ("pennfudan", "voc2012", "coco128", "ilsvrc227", "coco_mini", "openimages")


def run_options(preset: str, mode: str | None, device: str) -> dict:
    ctx = run_cmd.make_context("run", [str(ROOT / "samples" / "images")], resilient_parsing=True)
    o = {k: v for k, v in ctx.params.items() if k not in ("images", "out", "out_format", "resume", "shard", "engine",
                                                           "preset")}
    o = apply_preset({**o, "mode": mode}, preset, set() if mode is None else {"mode"})
    return {**o, "device": device, "no_cache": True}


def copies(members: list[Member], n: int | None) -> list[Member]:
    """``members`` as they are (``n`` None), or the first and ``n - 1`` copies of it with other random weights."""
    if n is None:
        return members
    out = [members[0]]
    for seed in range(1, n):
        torch.manual_seed(seed)
        out.append(Member(build_classifier(out[0].spec).eval(), out[0].spec, out[0].classes, {}, out[0].path))
    return out


def mode_label(members: list[Member]) -> str:
    modes = {m.spec.mode for m in members}
    return modes.pop() if len(modes) == 1 else "mixed"


# --candidates: the fast preset's alternatives measured before choosing it (README, "Presets"): (name, options
# overriding the preset's, bundled model, tag of their validation results in --val-results)
# (this round: Soft-NMS against the greedy NMS of before; two rounds ago the refinement steps were compared so, with
# {"refine": 0} and {"refine": 2})
CANDIDATES = (
    ("the preset of the last round (R-CNN's greedy NMS, `--nms greedy`)", {"nms": "greedy"}, "fast", "cand_greedy"),
    ("**the preset: Soft-NMS (the default `--nms soft`)**", {}, "fast", "fast_crops"),
)


def time_job(preset, mode, n_members, paths, device, model, extra: dict | None = None,
             bundled_model: str | None = None) -> dict:
    """``mode``: None (the preset as it is), ``crops``/``fast`` (``--mode``), or ``all`` (every member in its own
    mode, whatever member the preset prefers; without ``model``: the default ensemble's). ``model`` None: the
    bundled model ``detect run`` would use."""
    o = {**run_options(preset, None if mode == "all" else mode, str(device)), **(extra or {})}
    workers, threads = split_cores(o["method"], None, 0, o["ss_mode"])
    o["threads"] = threads
    prefer = None if mode == "all" else o.get("prefer_mode")
    # "all": the default ensemble's members, whatever the preset's own model
    bundled = bundled_model or ("default" if mode == "all" else o.get("bundled_model", "default"))
    files = [model] if model is not None else default_model_paths(bundled)
    members = copies(load_ensemble(files, device=device, mode=o["mode"], fast_short_side=o["fast_short_side"],
                                   fast_max_side=o["fast_max_side"], prefer_mode=prefer), n_members)
    config = from_options(o, [m.path for m in members])
    job = DetectionJob(config, members=members, ss_workers=workers)
    tasks = [(k, p, p.name) for k, p in enumerate(paths)]
    # one stream, as a long `detect run` job: the warm-up image (worker start, ONNX export, first shapes) first, the
    # clock started once it is out — a second call of records() would start a new selective-search pool
    stream = job.records([(-1, paths[0], "warm-up"), *tasks])
    next(stream)
    sums = {"proposals": 0.0, "classify": 0.0, "nms": 0.0, "regions": 0}
    t = time.perf_counter()
    for record, timings in stream:
        if "error" in record:
            raise SystemExit(f"{record['error']}")
        for k in sums:
            sums[k] += timings.get(k, 0)
    wall = time.perf_counter() - t
    n = len(paths)
    return {"preset": preset, "mode": mode_label(members), "members": len(members), "workers": workers,
            "threads": threads, "regions": sums["regions"] / n, **{k: sums[k] / n for k in ("proposals", "classify",
                                                                                            "nms")},
            "images_per_s": n / wall, "method": config.proposals.method}


def val_map(results: Path | None, tag: str) -> float | None:
    if results is None:
        return None
    maps = []
    for s in SETS:
        f = results / f"ours_{tag}_{s}.json"
        if not f.is_file():
            return None
        maps.append(json.loads(f.read_text())["mAP"])
    return float(np.mean(maps))


PEER_CODE = """
import sys, time
import torch
from torchvision.models import detection as tvd
from detector.data.images import load_image
name, device, paths = sys.argv[1], torch.device(sys.argv[2]), sys.argv[3:]
model = getattr(tvd, name)(weights=None, weights_backbone=None).eval().to(device)
with torch.inference_mode():
    model([torch.from_numpy(load_image(paths[0])).permute(2, 0, 1).float().div(255).to(device)])
    t = time.perf_counter()
    for p in paths:
        x = torch.from_numpy(load_image(p)).permute(2, 0, 1).float().div(255).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            model([x])
    if device.type == "cuda":
        torch.cuda.synchronize()
print(len(paths) / (time.perf_counter() - t))
"""
PEERS = (("torchvision Faster R-CNN R50-FPN", "fasterrcnn_resnet50_fpn"),
         ("torchvision Faster R-CNN MobileNetV3-Large-FPN", "fasterrcnn_mobilenet_v3_large_fpn"))


def time_peers(paths, device, only: str | None = None):
    """Images/s of each peer by name; of the peer ``only`` alone (a float) when given. Each peer runs in a fresh
    process with OpenMP's own waiting policy (``OMP_WAIT_POLICY`` unset, as a torchvision user runs it), not the
    passive one this process has, which is ``detect``'s (under it the peer ran at 1.98 images/s, 2.37 in
    its own process, in runs of the same benchmark minutes apart)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(ROOT)
    out = {}
    for name, ctor in PEERS:
        if only is not None and name != only:
            continue
        res = subprocess.run([sys.executable, "-c", PEER_CODE, ctor, str(device), *map(str, paths)], cwd=ROOT,
                             env=env, capture_output=True, text=True)
        if res.returncode:
            raise SystemExit(res.stderr[-2000:])
        out[name] = float(res.stdout.split()[-1])
    return out[only] if only is not None else out


def matmul_gflops(n=4096, reps=3) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def cnn_gflops(model, mode, paths, device) -> float:
    """The classify stage's GFLOP/s on the PyTorch path (ONNX Runtime's work is invisible to the counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    from detector.pipeline import Detector
    from proposals.selective_search import SelectiveSearchConfig, selective_search

    m = load_ensemble([model], device=device, mode=mode)[:1]  # one member: the one trained in that mode, if any
    images = [load_image(p) for p in paths[:2]]
    props = [selective_search(im, SelectiveSearchConfig(scale=2.0))[:2000] for im in images]
    det = Detector(None, m, backend="torch", device=device)
    det.detect(images[0], proposals=props[0])
    t = time.perf_counter()
    for im, pr in zip(images, props):
        det.detect(im, proposals=pr)
    secs = time.perf_counter() - t
    with FlopCounterMode(display=False) as fc:
        for im, pr in zip(images, props):
            det.detect(im, proposals=pr)
    return fc.get_total_flops() / secs / 1e9


PROBE = r"""
import resource, sys, time, numpy as np, torch
from detector.classifier import load_ensemble
from detector.pipeline import Detector
model, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
members = load_ensemble([model], mode=mode)[:1]
det = Detector(None, members, max_proposals=None)
image = np.random.default_rng(0).integers(0, 255, (375, 500, 3), dtype=np.uint8)
rng = np.random.default_rng(1)
xy = rng.uniform(0, 400, (n, 2)); wh = rng.uniform(16, 300, (n, 2))
boxes = np.concatenate([xy, np.minimum(xy + wh, [500, 375])], 1).astype(np.float32)
det.detect(image, proposals=boxes[:50])
t = time.perf_counter(); det.detect(image, proposals=boxes); secs = time.perf_counter() - t
print(secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

IMAGES_PROBE = r"""
import resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from bench_presets import run_options
from cli.run_cmd import from_options
from detector.classifier import load_ensemble
from detector.data.images import list_images
from detector.engines import DetectionJob, split_cores
model, source, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
paths = list_images(source)[:n]
o = run_options("fast", None, "cpu")
workers, threads = split_cores(o["method"], None, 0, o["ss_mode"])
o["threads"] = threads
members = load_ensemble([model], mode=o["mode"], fast_short_side=o["fast_short_side"], fast_max_side=o["fast_max_side"],
                        prefer_mode=o.get("prefer_mode"))
job = DetectionJob(from_options(o, [m.path for m in members]), members=members, ss_workers=workers)
t = time.perf_counter()
for record, _ in job.records([(k, p, p.name) for k, p in enumerate(paths)]):
    pass
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(paths))
"""


def probe(code: str, *args) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_WAIT_POLICY": "PASSIVE"})
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return [float(v) for v in out.stdout.split()[-3:]]


def time_candidates(args, paths, device) -> None:
    """Each of :data:`CANDIDATES` then the MobileNetV3-FPN peer, ``args.candidates`` rounds (the machine's load
    drifts: each round's ratio is to the peer timed right after it)."""
    times: dict[str, list[float]] = {name: [] for name, *_ in CANDIDATES}
    ratios: dict[str, list[float]] = {name: [] for name, *_ in CANDIDATES}
    peer_times, regions = [], {}
    for _ in range(args.candidates):
        got = {}
        for name, extra, bundled, _tag in CANDIDATES:
            r = time_job("fast", None, None, paths, device, args.model, extra, bundled)
            got[name], regions[name] = r["images_per_s"], r["regions"]
        peer = time_peers(paths, device, only="torchvision Faster R-CNN MobileNetV3-Large-FPN")
        peer_times.append(peer)
        for name, ips in got.items():
            times[name].append(ips)
            ratios[name].append(ips / peer)
        print(json.dumps({"peer": peer, **got}), file=sys.stderr, flush=True)
    print(f"{len(paths)} images from {args.images}; {args.candidates} rounds, medians; proposal cache off\n")
    print("| `--preset fast` with | regions/img | images/s | ÷ MobileNetV3-FPN's (same round) | validation mAP |")
    print("|---|---|---|---|---|")
    for name, _extra, _bundled, tag in CANDIDATES:
        m = val_map(args.val_results, tag)
        print(f"| {name} | {regions[name]:.0f} | {np.median(times[name]):.2f} | {np.median(ratios[name]):.2f} | "
              f"{'–' if m is None else f'{m:.4f}'} |")
    print(f"| torchvision Faster R-CNN MobileNetV3-Large-FPN (random weights) | – | {np.median(peer_times):.2f} | 1 | – |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True, help="folder, image or list file")
    ap.add_argument("--limit", type=int, default=12)
    ap.add_argument("--model", type=Path, default=None,
                    help="model file or folder (default: each preset's bundled model, as detect run chooses it)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--val-results", type=Path, default=None)
    ap.add_argument("--scaling-images", type=Path, default=None, help="photos for the 10 → 1,000 images series")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--candidates", type=int, default=0, metavar="ROUNDS",
                    help="only time the fast preset's candidates (CANDIDATES) against the MobileNetV3 peer, "
                         "alternating, ROUNDS times; print the median images/s and ratio to the peer")
    args = ap.parse_args()
    default = args.model or ROOT / "detector" / "models" / "default"  # the network of the growth series
    device = resolve_device(args.device)
    paths = list_images(args.images)[: args.limit]
    if args.candidates:
        return time_candidates(args, paths, device)
    rows = []
    # the preset as it is (paper: the bundle's members each in its mode; fast: its crops-mode member), every member
    # (fast), then each mode alone (the bundle's members trained in it), and 3 members of that mode (copies with
    # random weights: cost only)
    for preset in ("paper", "fast"):
        for mode, n in ((None, None), *((("all", None),) if preset == "fast" else ()), ("crops", None), ("crops", 3),
                        ("fast", None), ("fast", 3)):
            r = time_job(preset, mode, n, paths, device, args.model)
            r["mAP"] = val_map(args.val_results, f"{preset}_{r['mode']}") if n is None else None
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    peers = {} if args.no_peers else time_peers(paths, device)
    print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} cores; torch {torch.__version__}; {len(paths)} images from {args.images}; model "
          f"{args.model or 'bundled (each preset its own)'}; proposal cache off")
    print()
    print("| preset | mode | members | proposals | regions/img | proposals s/img | classify s/img | NMS s/img | "
          "end to end images/s | validation mAP (mean of 6 sets) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        m = "–" if r["mAP"] is None else f"{r['mAP']:.4f}"
        print(f"| {r['preset']} | {r['mode']} | {r['members']} | {r['method']} ({r['workers']} worker proc., "
              f"{r['threads']} thr.) | {r['regions']:.0f} | {r['proposals']:.3f} | {r['classify']:.3f} | "
              f"{r['nms']:.4f} | {r['images_per_s']:.2f} | {m} |")
    for name, ips in peers.items():
        print(f"| {name} (random weights) | – | – | – | – | – | – | – | {ips:.2f} | – |")
    if device.type == "cpu":
        mm = matmul_gflops()
        print(f"\nmatrix multiply 4096³ float32: {mm:.0f} GFLOP/s; the CNN (PyTorch path, ~2000 selective-search "
              "regions) reaches " + ", ".join(f"{mode} {g:.0f} GFLOP/s ({g / mm:.0%})" for mode, g in
                                               ((md, cnn_gflops(default, md, paths, device)) for md in
                                                ("crops", "fast"))))
    if args.no_scaling:
        return
    print("\n| proposals on one 500×375 image | crops: classify s | crops: peak MiB | fast: classify s | "
          "fast: peak MiB |")
    print("|---|---|---|---|---|")
    for n in (250, 500, 1000, 2000, 4000):
        c = probe(PROBE, default, "crops", n)
        f = probe(PROBE, default, "fast", n)
        print(f"| {n} | {c[-2]:.2f} | {c[-1]:.0f} | {f[-2]:.2f} | {f[-1]:.0f} |")
    if args.scaling_images is not None:
        print("\n| images (fast preset, end to end) | seconds | images/s | peak MiB |")
        print("|---|---|---|---|")
        for n in (10, 100, 1000):
            secs, peak, got = probe(IMAGES_PROBE, default, args.scaling_images, n, ROOT / "benchmarks")
            print(f"| {int(got)} | {secs:.1f} | {got / secs:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
