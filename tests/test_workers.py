"""Data-loading workers: a batch a worker cannot hand over through shared memory is an error of the training
process, not a hang (trial 35: under a file-size limit or a small /dev/shm, `detect train` with --workers 1 waited
until Ctrl-C)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from detector.nn.workers import LoaderError, loader_errors, shared_batch

ROOT = Path(__file__).resolve().parents[1]


def _shared_in_worker(items):
    t = torch.stack(items)
    batch = shared_batch((t, [t + 1]))
    return batch, torch.tensor([batch[0].is_shared(), batch[1][0].is_shared()])


def test_a_worker_builds_its_batch_in_shared_memory():
    (batch, shared), = list(DataLoader([torch.zeros(3)] * 2, batch_size=2, num_workers=1,
                                       collate_fn=_shared_in_worker))
    assert shared.tolist() == [True, True]
    assert batch[0].shape == (2, 3) and float(batch[1][0].sum()) == 6.0
    t = torch.zeros(2)
    assert shared_batch(t) is t and not t.is_shared()  # in the training process: left as it is


def _fails_in_worker(items):
    raise LoaderError("a data-loading worker could not hand a batch: File too large (27)")


def test_the_worker_s_error_reaches_training_as_its_message():
    with pytest.raises(LoaderError) as e:
        list(DataLoader([1, 2], batch_size=2, num_workers=1, collate_fn=_fails_in_worker))
    assert str(e.value) == "a data-loading worker could not hand a batch: File too large (27)"


def test_a_dead_worker_says_what_to_do():
    with pytest.raises(LoaderError, match=r"exited unexpectedly: load the data in the training process .*--workers 0"):
        with loader_errors():
            raise RuntimeError("DataLoader worker (pid(s) 123) exited unexpectedly")
    with pytest.raises(RuntimeError, match="other"):  # anything else passes through
        with loader_errors():
            raise RuntimeError("other")


def _file_size_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (100 * 1024, 100 * 1024))  # ulimit -f 100


def test_training_under_a_file_size_limit_ends_with_an_error(tmp_path):
    """Trial 35: `ulimit -f 100; detect train classifier …` printed torch's "unable to resize file" from the worker's
    queue thread and waited for the lost batch until Ctrl-C."""
    cmd = [sys.executable, "-m", "cli.main", "train", "classifier", "--gt", str(ROOT / "samples" / "annotations.json"),
           "--out", str(tmp_path / "m.pt"), "--epochs", "1", "--width", "0.25", "--input-size", "96",
           "--workers", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, preexec_fn=_file_size_limit,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "DETECT_CACHE_DIR": str(tmp_path)})
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "--workers 0" in res.stderr and "shared memory" in res.stderr, res.stderr
    assert not (tmp_path / "m.pt").exists()
