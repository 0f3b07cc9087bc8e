"""One training loop for every network of the project: optimiser and schedule, mixed precision on CUDA, exact resume,
data parallelism under ``torchrun``, best/last checkpoints, a JSONL log and a progress bar.

A trainer supplies only what is its own (:class:`Task`): the batches of an epoch, the loss of a batch, how to write
its model file, and optionally a validation score. The loop owns the rest, identically for all of them:

- SGD with momentum or AdamW, weight decay on weights only (not on biases or BatchNorm), a linear warm-up from
  ``lr / 10``, then the paper's step schedule (``lr_decay`` every ``lr_step_epochs``) or a cosine decay to 0;
- under ``torchrun`` (:mod:`detector.nn.distributed`) the model is wrapped in ``DistributedDataParallel``, each rank
  takes its shard of the epoch (the task's ``batches`` receives rank and world size), rank 0 alone writes files,
  logs and shows progress, and BatchNorm statistics are rank 0's at the end of each epoch;
- on CUDA with ``amp`` the loss runs under bfloat16 autocast (no gradient scaling is needed for bfloat16);
- files beside ``out``: ``out`` itself (the best model by the validation score, or the latest without one),
  ``<stem>.last.ckpt`` (the last epoch's model), ``<stem>.state.ckpt`` (what ``resume`` needs: weights, optimiser,
  the torch RNG, epoch, iteration, best score, history) and ``<stem>.log.jsonl`` (one line per epoch).

Exact resume: a run resumed from its state file ends with the weights an uninterrupted run would have, provided the
task's batches depend only on ``(seed, epoch)`` — never on worker scheduling — and its randomness inside the loss
comes from the torch RNG (dropout), which is saved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..data.io import atomic_write
from . import distributed
from .device import autocast
from .workers import loader_errors

__all__ = ["OptimConfig", "Task", "LoopState", "fit", "state_path", "last_path", "stored_half", "log_path",
           "learning_rate", "build_optimizer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and schedule. Defaults are the paper's (SGD, momentum 0.9, −4 % every 8 epochs)."""

    epochs: int = 10  # our choice for the small models trained here
    optimizer: str = "sgd"  # sgd (the paper, R-CNN) | adamw (Beyer et al. 2022 distil with Adam)
    lr: float = 0.01  # our choice for training from scratch (R-CNN fine-tuned ImageNet weights at 0.001)
    momentum: float = 0.9  # the paper (SGD); AdamW's beta1
    weight_decay: float = 5e-4  # R-CNN / Caffe (SGD); decoupled for AdamW
    schedule: str = "step"  # step: the paper's; cosine: to 0 over the run
    lr_decay: float = 0.96  # the paper: the learning rate falls 4 % ...
    lr_step_epochs: int = 8  # ... every 8 epochs
    warmup_iters: int = 50  # linear warm-up from lr / 10 (our addition: training from scratch is fragile early)
    seed: int = 0  # of everything random in a run (sampling order, augmentation, initialisation)

    def __post_init__(self):
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be sgd or adamw, got {self.optimizer!r}")
        if self.schedule not in ("step", "cosine"):
            raise ValueError(f"schedule must be step or cosine, got {self.schedule!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def learning_rate(config: OptimConfig, epoch: int, iteration: int, total_iters: int) -> float:
    """The learning rate of ``iteration`` (counted over the whole run) in ``epoch`` (0-based)."""
    if config.schedule == "cosine":
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * min(iteration, total_iters) / max(total_iters, 1)))
    else:
        lr = config.lr * (config.lr_decay ** (epoch // max(config.lr_step_epochs, 1)))
    if iteration < config.warmup_iters:
        lr *= 0.1 + 0.9 * iteration / config.warmup_iters
    return lr


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """SGD or AdamW over ``model``'s trainable parameters; no weight decay on 1-d parameters (biases, BatchNorm)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=(config.momentum, 0.999))
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def state_path(out) -> Path:
    """The resume state of a run writing ``out`` (``.ckpt``, so a model folder's ``*.pt`` glob skips it)."""
    out = Path(out)
    return out.with_name(out.stem + ".state.ckpt")


def last_path(out) -> Path:
    """The last epoch's model of a run writing ``out``."""
    out = Path(out)
    return out.with_name(out.stem + ".last.ckpt")


def stored_half(path, out, half: bool) -> bool:
    """Whether a training stores its model file ``path`` as float16 (``half`` of :func:`detector.nn.checkpoint.
    save_member` and :func:`proposals.multibox.save_multibox`) when ``--half`` (``half``) is given: ``--out``
    (``out``) alone, the file to ship, as ``--half``'s help says; ``<stem>.last.ckpt`` (:func:`last_path`) keeps
    the weights as trained, float32, as the resume state (:func:`state_path`) does, for ``--init`` or a later look
    (trial 64: `train classifier --half` wrote it as float16 too, `train_multibox` ``--out`` alone)."""
    return half and Path(path) == Path(out)


def log_path(out) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".log.jsonl")


@dataclass
class LoopState:
    """What ``resume`` needs besides weights and optimiser: everything that changes between epochs."""

    epoch: int = 0  # epochs completed
    iteration: int = 0
    best: float = -math.inf  # best validation score so far
    history: list = field(default_factory=list)  # one record per epoch (the log lines)


@dataclass
class Task:
    """What one kind of training supplies to :func:`fit`.

    - ``batches(epoch, rank, world_size)``: the epoch's batches for this rank (its shard), in order; they must depend
      only on the seed and the epoch for exact resume; ``len()`` is used for the progress bar when available.
    - ``loss(net, batch, device)`` → ``(loss tensor, {name: float})``: ``net`` is the model, or its
      ``DistributedDataParallel`` wrapper (of ``forward_module`` when given) under ``torchrun``.
    - ``save(model, path, meta)``: write the model file (``meta``: training metadata to store in it).
    - ``validate(model)`` → ``{name: float}`` with the key ``score_key`` (larger is better), called every
      ``val_every`` epochs and after the last on every rank (rank 0's answer counts); None: no validation.
    - ``forward_module``: the module DDP wraps, when the loss calls something other than ``model.forward`` (DDP
      averages gradients only of what runs through the wrapped module's ``forward``).
    - ``examples(batch)``: the number of training examples in a batch, for the throughput in the log (under
      ``examples_name``).
    - ``state_key`` / ``state_extra(model)``: the key of the weights in the state file and more entries for it
      (MultiBox keeps its state file a loadable MultiBox file).
    """

    batches: Callable[[int, int, int], Iterable]
    loss: Callable[[nn.Module, object, torch.device], tuple[Tensor, dict]]
    save: Callable[[nn.Module, Path, dict], None]
    validate: Callable[[nn.Module], dict] | None = None
    score_key: str = "score"
    val_every: int = 1
    forward_module: nn.Module | None = None
    examples: Callable[[object], int] | None = None
    examples_name: str = "examples_per_s"
    state_key: str = "model"
    state_extra: Callable[[nn.Module], dict] | None = None
    name: str = "training"


def _loop_state(ck: dict) -> LoopState:
    """The :class:`LoopState` a state file ``ck`` holds (files of before ``best`` kept ``best_map``)."""
    best = ck["best"] if "best" in ck else (ck["best_map"] if ck.get("best_map", -1) >= 0 else -math.inf)
    return LoopState(int(ck["epoch"]), int(ck["iteration"]), float(best), json.loads(ck["history"]))


def _read_state(out) -> dict | None:
    """The state file of a run writing ``out``, or None when there is none or it cannot be read (``fit`` says what
    is wrong with it when it resumes)."""
    sp = state_path(out)
    if not sp.is_file():
        return None
    try:
        return torch.load(sp, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unreadable state
        return None


def stopped_run(out) -> tuple[int, int] | None:
    """(epochs finished, epochs planned) of a run writing ``out`` whose state file says it stopped before its last
    epoch; None when there is no state file, it cannot be read, or it finished (or predates the planned count)."""
    ck = _read_state(out)
    try:
        done, planned = int(ck["epoch"]), int(ck["epochs"])
    except (TypeError, KeyError, ValueError):  # no state, or written before states kept the planned count
        return None
    return (done, planned) if done < planned else None


def finished_state(out, epochs: int) -> LoopState | None:
    """The :class:`LoopState` of a run writing ``out`` that has finished ``epochs`` epochs (or more) and written
    ``out``: ``resume`` then has nothing to train. None otherwise, or when its state file cannot be read."""
    ck = _read_state(out) if Path(out).is_file() else None
    try:
        state = _loop_state(ck)
    except (TypeError, KeyError, ValueError):
        return None
    return state if state.epoch >= epochs else None


def _append_log(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _loaded(batches: Iterable):
    """``batches`` one by one; a data-loading worker that died raised as a clear error
    (:func:`detector.nn.workers.loader_errors`)."""
    it = iter(batches)
    while True:
        with loader_errors():
            try:
                batch = next(it)
            except StopIteration:
                return
        yield batch


def fit(model: nn.Module, task: Task, config: OptimConfig, out, *, resume: bool = False, device="cpu",
        amp: bool = True, progress: Callable | None = None, metadata: dict | None = None,
        check_resume: Callable[[Path], None] | None = None,
        on_epoch_end: Callable[[LoopState], None] | None = None) -> LoopState:
    """Train ``model`` (already built and initialised, on any device) with ``task`` for ``config.epochs`` epochs
    and write the files named in the module docstring beside ``out``. Returns the final :class:`LoopState`.

    ``resume``: continue from ``<stem>.state.ckpt`` when it exists (``check_resume(last_path)`` may refuse first,
    e.g. when the model settings differ). ``progress(iterable, epoch)`` wraps each epoch's batches (e.g. tqdm) and
    gets ``set_postfix`` updates when it has that method. ``metadata`` goes into every model file written, with the
    config, epoch and iteration. Raises ``FloatingPointError`` when the loss stops being finite."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    world, rank = distributed.world_size(), distributed.rank()
    main = rank == 0
    if distributed.env_world_size() > 1 and world == 1:
        logger.warning("WORLD_SIZE is %d but no process group was joined (detector.nn.distributed.init): every "
                       "process trains alone and writes the same files", distributed.env_world_size())
    model.to(device)
    opt = build_optimizer(model, config)
    state = LoopState()
    sp = state_path(out)
    if resume and sp.is_file():
        if check_resume is not None:
            check_resume(last_path(out))
        ck = torch.load(sp, map_location="cpu", weights_only=True)
        model.load_state_dict(ck[task.state_key])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        state = _loop_state(ck)
        logger.info("resumed %s at epoch %d", out, state.epoch)
        was_epochs = ck.get("epochs")
        if main and config.schedule == "cosine" and isinstance(was_epochs, int) and was_epochs != config.epochs \
                and state.epoch < config.epochs:  # trial 54: a MultiBox run stopped at 37 of 150 epochs, resumed
            # with --epochs 40, went on at 0.0001 where it had stopped at 0.017, without a word
            logger.warning("resumed with --epochs %d, the run had %d: its cosine learning rate now decays to 0 over "
                           "%d epochs, so the rest of the schedule differs from an uninterrupted run's (the rate "
                           "jumps %s where it goes on; exact resume: the same --epochs)", config.epochs, was_epochs,
                           config.epochs, "down" if config.epochs < was_epochs else "up")
        before = int(ck["world_size"]) if "world_size" in ck else None  # absent: a state of an older version
        if main and before is not None and before != world:  # allowed, but each iteration's batch is another now
            logger.warning("resumed on %d process%s, the run had %d: each iteration now takes %s the examples "
                           "it took, and the rest of the schedule has %s iterations per epoch (exact resume: the "
                           "same number of processes; trial 44)", world, "" if world == 1 else "es", before,
                           f"{world / before:g} times", "fewer" if world > before else "more")
    elif main:  # a fresh run starts a fresh log, and an earlier run's state no longer describes the files (were this
        # run to stop in its first epoch, --resume would go on with the other run, `detect run` warn of its epochs)
        log_path(out).unlink(missing_ok=True)
        sp.unlink(missing_ok=True)
    net: nn.Module = task.forward_module or model
    if world > 1:  # built after any resume state is loaded (DDP starts every rank from rank 0's weights)
        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    per_epoch = None
    meta = {"config": config.to_dict(), **(metadata or {})}
    for epoch in range(state.epoch, config.epochs):
        batches = task.batches(epoch, rank, world)
        if per_epoch is None:
            try:
                per_epoch = len(batches)  # type: ignore[arg-type]
            except TypeError:
                per_epoch = 0
        total_iters = per_epoch * config.epochs
        model.train()
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        n_batches = n_examples = 0
        bar = progress(batches, epoch) if progress is not None and main else batches
        for batch in _loaded(bar):
            lr = learning_rate(config, epoch, state.iteration, total_iters)
            for g in opt.param_groups:
                g["lr"] = lr
            with autocast(device, amp):
                loss, parts = task.loss(net, batch, device)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{task.name}: the loss became {float(loss)} at epoch {epoch + 1}, "
                                         f"iteration {state.iteration}: lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            state.iteration += 1
            n_batches += 1
            n_examples += task.examples(batch) if task.examples is not None else 0
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}", lr=f"{lr:.2e}")
        secs = time.perf_counter() - t0
        distributed.broadcast_buffers(model)  # every rank validates and rank 0 saves the same model
        means = distributed.all_reduce_mean({**{k: v / max(n_batches, 1) for k, v in sums.items()},
                                             task.examples_name: n_examples / max(secs, 1e-9)})
        means[task.examples_name] *= world  # all ranks together
        record = {"epoch": epoch + 1, "iterations": state.iteration,
                  "lr": learning_rate(config, epoch, state.iteration, total_iters), **means, "seconds": secs}
        state.epoch = epoch + 1
        last = state.epoch == config.epochs
        model_meta = {**meta, "epoch": state.epoch, "iterations": state.iteration}
        validated = task.validate is not None and task.val_every and (state.epoch % task.val_every == 0 or last)
        scores = {}
        if validated:
            model.eval()
            scores = distributed.broadcast_object(dict(task.validate(model)))
            record.update(scores)
        with _signals_deferred():  # the epoch's files all or none: Ctrl-C or SIGTERM land after them (user trial)
            _save_epoch(model, task, opt, config, out, state, record, scores, model_meta, main)
            if on_epoch_end is not None:  # and after its line: a kept epoch is one the user saw end (trial 32)
                on_epoch_end(state)
        distributed.barrier()  # the others wait while rank 0 writes
    if main and not out.exists():  # no epoch ran (resumed a finished run without its model file)
        task.save(model, out, {**meta, "epoch": state.epoch})
    distributed.barrier()
    return state


def _save_epoch(model, task: Task, opt, config: OptimConfig, out: Path, state: LoopState, record: dict,
                scores: dict, model_meta: dict, main: bool) -> None:
    """The files of a finished epoch: the best model (when ``scores`` beat the best so far, or without validation
    yet), the last one, the resume state and the log line (rank 0 writes; every rank updates ``state``)."""
    sp = state_path(out)
    written: list[Path] = []
    try:
        if scores:
            if scores[task.score_key] > state.best:
                state.best = float(scores[task.score_key])
                if main:
                    task.save(model, out, {**model_meta, **scores})
                    written.append(out)
        elif state.best == -math.inf and main:  # not validated (yet): the latest model is the best known
            task.save(model, out, model_meta)
            written.append(out)
        state.history.append(record)
        if main:
            task.save(model, last_path(out), model_meta)
            written.append(last_path(out))
            _save_state(model, task, opt, config, sp, state)
    except OSError:  # a full disk: the state file is written last, so an earlier epoch's state still describes
        # the run (its model may be this epoch's: `detect run` warns of a stopped run, --resume redoes the epoch);
        # in the first epoch there is none, and the model files written alone would pass for a whole run (trial 34)
        if main and not sp.is_file():
            for path in written:
                path.unlink(missing_ok=True)
        raise
    if main:
        _append_log(log_path(out), record)
        logger.info("%s epoch %d: %s", task.name, state.epoch, record)


def _save_state(model, task: Task, opt, config: OptimConfig, sp: Path, state: LoopState) -> None:
    """The resume state file ``sp`` (written atomically). The torch RNG (dropout) is the same on every rank, so rank
    0's copy resumes them all."""
    resume_state = {**(task.state_extra(model) if task.state_extra else {}),
                    task.state_key: model.state_dict(), "optimizer": opt.state_dict(),
                    "torch_rng": torch.get_rng_state(), "epoch": state.epoch, "iteration": state.iteration,
                    "best": state.best, "history": json.dumps(state.history), "epochs": config.epochs,
                    "world_size": distributed.world_size()}
    atomic_write(sp, lambda f: torch.save(resume_state, f))


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM held back while the block runs and delivered (to the handlers they had) when it ends, so
    that a stop never falls between an epoch's model files and its resume state. Main thread only (where Python
    runs signal handlers); elsewhere a plain block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)
