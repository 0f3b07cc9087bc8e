"""Record ``tests/data/samples_expected.json``: what ``detect run samples/images --no-cache [args]`` writes with the
bundled models, for ``tests/test_before_after.py``. Run from the repository root after the bundled models change
(the test skips, naming the changed file, until then):

    python tests/data/record_samples.py                 # every run
    python tests/data/record_samples.py preset_fast     # these runs alone; the others keep their recorded detections
"""

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = (*sorted(str(p.relative_to(ROOT)) for p in (ROOT / "detector" / "models" / "default").glob("member*.pt")),
          *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "detector" / "models" / "fast").glob("*.pt")),
          "proposals/models/multibox.pt")
# the first four with R-CNN's greedy NMS, recorded before Soft-NMS became the default (their detections are those
# of before, the --nms greedy path unchanged); the last two with the defaults of since
RUNS = {"ss": ["--nms", "greedy"], "both": ["--proposals", "both", "--nms", "greedy"],
        "preset_fast": ["--preset", "fast", "--nms", "greedy"], "mode_fast": ["--mode", "fast", "--nms", "greedy"],
        "soft": [], "preset_fast_soft": ["--preset", "fast"]}


def main():
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    only = sys.argv[1:]
    if any(name not in RUNS for name in only):
        sys.exit(f"runs: {', '.join(RUNS)}")
    made_by = (f"detect run samples/images --no-cache [args] at commit {commit} (tests/data/record_samples.py), on "
               "the bundled models below; rows: image_id, category_id, x, y, w, h, score")
    path = ROOT / "tests" / "data" / "samples_expected.json"
    doc = {"made_by": made_by, "runs": {}}
    if only:  # the other runs keep what they recorded (their models must not have changed since)
        doc = json.loads(path.read_text())
        doc["made_by"] += f"; {', '.join(only)} re-recorded at commit {commit}"
    doc["models"] = {p: hashlib.sha256((ROOT / p).read_bytes()).hexdigest() for p in MODELS}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in RUNS.items():
            if only and name not in only:
                continue
            out = Path(tmp) / f"{name}.json"
            subprocess.run([sys.executable, "-m", "cli.main", "run", str(ROOT / "samples" / "images"), "--out",
                            str(out), "--no-cache", *args], cwd=ROOT, check=True)
            got = json.loads(out.read_text())
            doc["runs"][name] = {
                "args": args, "config_sha256": got["job"]["config_sha256"],
                "images": [[im["file_name"], im["width"], im["height"]] for im in got["images"]],
                "errors": got["errors"],
                "detections": [[d["image_id"], d["category_id"], *d["bbox"], d["score"]] for d in got["detections"]]}
    path.write_text(json.dumps(doc) + "\n")


if __name__ == "__main__":
    main()
