"""Crop-mode CNN backends on this CPU: eager PyTorch vs torch.compile vs ONNX Runtime (float32), and batch size.

    python benchmarks/bench_backends.py [--model detector/models/default] [--threads 2]

Times the classifier alone on batches of warped regions (random pixels; the cost does not depend on them) and
reports ms per region and the largest difference in softmax output against eager, so that a backend is only
adopted where it is both faster and equal within a stated tolerance. Prints a Markdown table."""

from __future__ import annotations

import argparse
import io
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `detect` runs (cli/__init__.py): set before torch loads
# OpenMP, or its threads busy-wait beside the selective-search workers (measured: the fast preset 3.5 against
# 4.5 images/s when torch was imported first)

import torch

from detector.classifier import load_ensemble


def timeit(fn, x, reps):
    fn(x)  # warm-up
    fn(x)
    t = time.perf_counter()
    for _ in range(reps):
        out = fn(x)
    return (time.perf_counter() - t) / reps, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="detector/models/default")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batches", default="16,32,64,128")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--backends", default="compile,onnx", help="besides eager: compile and/or onnx")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    m = load_ensemble([args.model])[0]
    model = m.model.eval().float()
    s = m.spec.input_size
    rows = []
    ref_out = {}
    inputs = {}
    for bs in [int(b) for b in args.batches.split(",")]:
        x = inputs[bs] = torch.randn(bs, 3, s, s)
        with torch.inference_mode():
            t, out = timeit(model, x, args.reps)
        ref_out[bs] = torch.softmax(out, 1)
        rows.append(("eager", bs, 1000 * t / bs, 0.0))
    cl = m.model.eval().float().to(memory_format=torch.channels_last)
    for bs in [int(b) for b in args.batches.split(",")]:
        with torch.inference_mode():
            t, out = timeit(cl, inputs[bs], args.reps)
        rows.append(("eager, channels-last", bs, 1000 * t / bs,
                     float((torch.softmax(out, 1) - ref_out[bs]).abs().max())))
    model = model.to(memory_format=torch.contiguous_format)
    bs = 64
    x = torch.randn(bs, 3, s, s)
    with torch.inference_mode():
        ref = torch.softmax(model(x), 1)
    try:
        if "compile" not in args.backends:
            raise LookupError("skipped")
        compiled = torch.compile(model)
        with torch.inference_mode():
            t0 = time.perf_counter()
            compiled(x)
            ctime = time.perf_counter() - t0
            t, out = timeit(compiled, x, args.reps)
        rows.append((f"torch.compile (compile {ctime:.0f} s)", bs, 1000 * t / bs,
                     float((torch.softmax(out, 1) - ref).abs().max())))
    except LookupError:
        pass
    except Exception as e:  # noqa: BLE001 - report, do not stop
        rows.append((f"torch.compile failed: {type(e).__name__}", bs, float("nan"), float("nan")))
    try:
        if "onnx" not in args.backends:
            raise LookupError("skipped")
        import onnxruntime as ort

        buf = io.BytesIO()
        torch.onnx.export(model, (x,), buf, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}},
                          dynamo=False)
        so = ort.SessionOptions()
        if args.threads:
            so.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
        xn = x.numpy()
        t, out = timeit(lambda a: sess.run(None, {"x": a})[0], xn, args.reps)
        rows.append(("ONNX Runtime", bs, 1000 * t / bs, float((torch.softmax(torch.from_numpy(out), 1) - ref).abs().max())))
    except LookupError:
        pass
    except Exception as e:  # noqa: BLE001
        rows.append((f"ONNX Runtime failed: {type(e).__name__}: {str(e)[:60]}", bs, float("nan"), float("nan")))
    print(f"model {args.model}: {m.spec.arch}, {s} px, width {m.spec.width}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print("| backend | batch | ms / region | max |softmax − eager| |")
    print("|---|---|---|---|")
    for name, b, ms, diff in rows:
        print(f"| {name} | {b} | {ms:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
