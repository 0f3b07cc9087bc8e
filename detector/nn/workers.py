"""Data-loading worker processes (``torch.utils.data.DataLoader(num_workers > 0)``): batches handed over through
shared memory, and a failure to hand one over made an error of the training process.

A worker sends each batch to the training process through shared memory (``/dev/shm`` on Linux). When that memory
cannot be had — a small ``/dev/shm`` (Docker's 64 MB), a file-size limit (``ulimit -f``) — torch's queue thread in the
worker prints the error and drops the batch, and the training process waits for it forever (trial 35). Moving the
batch into shared memory inside the worker's own code (:func:`shared_batch`, as torch's ``default_collate`` does for
the batches it builds) makes the failure an exception the worker reports, which the training process raises as a
:class:`LoaderError`; :func:`loader_errors` gives the same error when a worker dies (a bus error on a full
``/dev/shm``).
"""

from __future__ import annotations

import contextlib
import re

import torch
from torch.utils.data import get_worker_info

__all__ = ["LoaderError", "shared_batch", "loader_errors", "ADVICE"]

ADVICE = ("load the data in the training process instead (--workers 0), or give the workers more shared memory "
          "(a larger /dev/shm: docker run --shm-size 2g; no file-size limit: ulimit -f unlimited)")


class LoaderError(OSError):
    """A data-loading worker could not hand a batch to the training process. Raised in the worker by
    :func:`shared_batch` and again in the training process by the ``DataLoader`` (which passes the message wrapped in
    the worker's traceback; only the message is kept)."""

    def __init__(self, message: str):
        if "Original Traceback" in message:  # torch's ExceptionWrapper.reraise: "Caught … Original Traceback … X: msg"
            last = message.rstrip().splitlines()[-1]
            message = re.sub(r"^[\w.]*LoaderError: ", "", last)
        super().__init__(message)


def _share(obj) -> None:
    if isinstance(obj, torch.Tensor):
        obj.share_memory_()
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _share(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            _share(o)


def shared_batch(batch):
    """``batch`` (tensors, possibly in tuples, lists, named tuples and dicts) with every tensor moved into shared
    memory in place when called in a ``DataLoader`` worker; unchanged in the training process.

    Raises :class:`LoaderError` (in the worker; the ``DataLoader`` raises it again in the training process) when the
    shared memory cannot be had."""
    if get_worker_info() is None:
        return batch
    try:
        _share(batch)
    except RuntimeError as e:  # "unable to resize file </torch_…> to the right size: File too large (27)"
        raise LoaderError(f"a data-loading worker could not hand a batch to training through shared memory ({e}): "
                          + ADVICE) from None
    return batch


@contextlib.contextmanager
def loader_errors():
    """Around iterating a ``DataLoader``: a worker that died (``RuntimeError: DataLoader worker (pid …) is killed by
    signal: Bus error`` / ``exited unexpectedly``) raised as a :class:`LoaderError` that says what to do."""
    try:
        yield
    except RuntimeError as e:
        if not str(e).startswith("DataLoader worker"):
            raise
        raise LoaderError(f"{str(e).splitlines()[0].rstrip('. ')}: " + ADVICE) from None
