"""Data-parallel training under ``torchrun``: the process group, this process's rank, and the few collectives the
trainers need. Without ``torchrun`` (``WORLD_SIZE`` unset or 1) every helper is a no-op that answers as a single
process would (rank 0 of 1), so the trainers run exactly as they do alone.

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` for each process it starts; :func:`init` joins the
group (gloo for CPU devices; NCCL for CUDA, each process on ``cuda:LOCAL_RANK``).
"""

from __future__ import annotations

import logging
import math
import os
from datetime import timedelta
from typing import Sequence

import torch
import torch.distributed as dist

__all__ = ["env_world_size", "local_rank", "is_distributed", "rank", "world_size", "is_main", "init", "cleanup",
           "barrier", "shard", "all_reduce_mean", "broadcast_buffers", "all_gather_object", "broadcast_object"]

logger = logging.getLogger(__name__)

# Ranks wait for each other at the collectives: for the slowest shard of selective search before training, while
# rank 0 writes checkpoints, and while it validates a MultiBox network alone. torch's defaults (10 min for NCCL,
# 30 min for gloo) are short for selective search on a shard.
TIMEOUT = timedelta(hours=2)


def env_world_size() -> int:
    """The number of processes ``torchrun`` started (``WORLD_SIZE``; 1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    """This process's index on its node (``LOCAL_RANK``; 0 without torchrun)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_distributed() -> bool:
    """True in a joined process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0: the one process that writes files, logs and shows progress."""
    return rank() == 0


def init(device: torch.device) -> torch.device:
    """Under ``torchrun`` with ``WORLD_SIZE`` > 1, join the process group (once) and return the device this rank
    trains on: ``cuda:LOCAL_RANK`` for a CUDA ``device`` (its index is ignored), ``device`` itself otherwise.
    Without ``torchrun``, return ``device`` unchanged."""
    device = torch.device(device)
    if env_world_size() <= 1:
        return device
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 (torchrun), but this torch build has no torch.distributed")
    if device.type == "cuda":
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)
        logger.info("rank %d of %d joined the %s process group on %s", dist.get_rank(), dist.get_world_size(),
                    backend, device)
    return device


def cleanup() -> None:
    """Leave the process group (if one was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if is_distributed():
        dist.barrier()


def shard(order: Sequence[int], rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s part of an epoch's ``order``: every ``world_size``-th item from ``rank`` on, the order first
    padded by repeating it from its start so that every rank gets ``ceil(len(order) / world_size)`` items (as
    torch's DistributedSampler). ``order`` itself (as a list) for one process."""
    order = list(order)
    if world_size <= 1 or not order:
        return order
    total = math.ceil(len(order) / world_size) * world_size
    padded = (order * math.ceil(total / len(order)))[:total]
    return padded[rank::world_size]


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """The mean over ranks of each value (the same keys on every rank); ``values`` itself in a single process."""
    if not is_distributed():
        return values
    keys = list(values)  # every rank builds its dict in the same order
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist()))


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) into ``module`` on every rank. DDP broadcasts them
    before each forward, so after the last step of an epoch each rank holds its own; no-op in a single process."""
    if is_distributed():
        for b in module.buffers():
            dist.broadcast(b, src)


def all_gather_object(obj) -> list:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` in a single process."""
    if not is_distributed():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s ``obj`` on every rank; ``obj`` itself in a single process."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
