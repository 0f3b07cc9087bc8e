"""Every script of scripts/ and benchmarks/ answers --help (trial 49: benchmarks/gpu_amp_check.py took no options
and ran its multi-minute check on `--help`)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*(ROOT / "scripts").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")])


def test_every_script_parses_its_options():
    assert SCRIPTS
    for script in SCRIPTS:  # reading them is enough here: running each --help imports torch (seconds apiece)
        text = script.read_text(encoding="utf-8")
        assert "argparse" in text or "click" in text, f"{script.relative_to(ROOT)} reads no options: --help runs it"


def test_gpu_amp_check_help_prints_usage_and_runs_nothing():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_amp_check.py"), "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "usage:" in res.stdout and "ms/image" not in res.stdout, res.stdout + res.stderr
