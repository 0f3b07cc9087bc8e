"""Throughput of `detect run` (images/s) on real images: one core vs all cores, local engine vs Ray.

    python benchmarks/bench_throughput.py --images work/split/val/pennfudan.txt --limit 16

Each configuration is a fresh `detect run` process over the same images with the proposal cache off (selective
search included), the bundled model unless --model is given. "1 core" pins the process (and its children) to one
CPU with taskset. Prints a Markdown table; images/s counts the whole command, start-up included, and also the
rate `detect run` reports for its image loop."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", required=True, help="folder or list file of images")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--model", default=None)
    ap.add_argument("--configs", default="local1,local,local-balanced,ray1,ray",
                    help="comma list of local1, local, local-balanced, ray1, ray")
    args = ap.parse_args()
    src = Path(args.images)
    paths = [Path(p) for p in src.read_text().split()] if src.is_file() else sorted(src.iterdir())
    paths = paths[: args.limit]
    tmp = Path(tempfile.mkdtemp(prefix="bench_tp_"))
    lst = tmp / "list.txt"
    lst.write_text("\n".join(str(p) for p in paths) + "\n")
    ncpu = len(os.sched_getaffinity(0))
    detect = shutil.which("detect") or "detect"
    base = [detect, "run", str(lst), "--no-cache"] + (["--model", args.model] if args.model else [])
    configs = {
        "local1": ("local, 1 core (selective search then CNN, one process, 1 thread)",
                   ["taskset", "-c", "0"] + base + ["--workers", "0", "--threads", "1"], {"OMP_NUM_THREADS": "1"}),
        "local": (f"local, {ncpu} cores (selective search in {ncpu} processes, CNN {ncpu} threads)",
                  base + ["--workers", str(ncpu), "--threads", str(ncpu)], {}),
        "local-balanced": (f"local, {ncpu} cores, the default split (selective search in {max(1, ncpu // 2)} "
                           f"processes, CNN {max(1, ncpu - max(1, ncpu // 2))} threads)", base, {}),
        "ray1": ("ray, 1 actor × 1 CPU", base + ["--engine", "ray", "--ray-actors", "1", "--ray-chunk", "4"], {}),
        "ray": (f"ray, {ncpu} actors × 1 CPU", base + ["--engine", "ray", "--ray-chunk", "4"], {}),
    }
    rows = []
    for key in args.configs.split(","):
        label, cmd, env = configs[key]
        out = tmp / f"{key}.json"
        t = time.perf_counter()
        res = subprocess.run(cmd + ["--out", str(out)], env={**os.environ, **env}, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if res.returncode != 0:
            print(res.stdout, res.stderr, file=sys.stderr)
            raise SystemExit(f"{key} failed")
        m = re.search(r"\(([\d.]+) (?:images|inputs)/s", res.stdout)  # inputs/s when some input failed
        rows.append((label, len(paths), wall, len(paths) / wall, float(m.group(1)) if m else float("nan")))
        print(f"{label}: {wall:.1f} s", file=sys.stderr, flush=True)
    outs = {key: (tmp / f"{key}.json").read_text() for key in args.configs.split(",")}
    print(f"\n{len(paths)} images from {src}, {ncpu} CPUs\n")
    print("| configuration | images | wall s | images/s (whole command) | images/s (image loop) |")
    print("|---|---|---|---|---|")
    for label, n, wall, ips, loop in rows:
        print(f"| {label} | {n} | {wall:.1f} | {ips:.3f} | {loop:.3f} |")
    import json

    docs = {k: json.loads(v) for k, v in outs.items()}
    ref = next(iter(docs.values()))
    same = all(d["detections"] == ref["detections"] and d["errors"] == ref["errors"] for d in docs.values())
    print(f"\nall configurations wrote the same detections: {same}")


if __name__ == "__main__":
    main()
