"""scripts/evaluate_distilled.py: a user's mistake is one line naming it and exit status 1, before the teacher is
loaded (trial 57: NAME=PATH without "=", a missing path or an empty model file were tracebacks, and a model without
the 1,000 ImageNet outputs was named only after the teacher had scored the photos)."""

import subprocess
import sys
from pathlib import Path

from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.vocab import ilsvrc_categories
from test_presets import crops_model, image_folder

ROOT = Path(__file__).resolve().parents[1]


def _script(*args):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate_distilled.py"), *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    return r.returncode, r.stdout + r.stderr


def test_user_mistakes_are_one_line_errors(tmp_path):
    d = image_folder(tmp_path)
    crops_model(tmp_path / "m.pt")  # 2 classes, not 1,000 ImageNet outputs
    (tmp_path / "empty.pt").write_bytes(b"")
    rc, out = _script("--model", tmp_path / "m.pt", "--set", d)
    assert rc == 1 and "give NAME=PATH" in out and "Traceback" not in out, out
    spec = ClassifierSpec(arch="paper-bn", num_classes=1000, input_size=96, width=0.25, class_map="imagenet1k")
    save_member(tmp_path / "inet.pt", build_classifier(spec).eval(), spec, ilsvrc_categories())
    rc, out = _script("--model", tmp_path / "inet.pt", "--set", f"x={tmp_path / 'nothing'}")
    assert rc == 1 and "no such file or folder" in out and "Traceback" not in out, out
    rc, out = _script("--model", tmp_path / "empty.pt", "--set", f"x={d}")
    assert rc == 1 and "the file is empty" in out and "Traceback" not in out, out
    rc, out = _script("--model", tmp_path / "m.pt", "--gt", f"x={d}")
    assert rc == 1 and "not a model with 1,000 ImageNet outputs" in out and "Traceback" not in out, out
