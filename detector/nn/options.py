"""How messages name a setting: by the command-line option that sets it, and what changed since a run began.

One home for two conventions every command's messages share: a setting ``key`` (a config field or a command's
parameter, ``multibox_top``) is named by its option (``--multibox-top``); a setting that differs from the one a run
was started with reads ``--lr 0.01 now, 0.1 in that run``, and a refused resume ends "Give the same, or delete
<state file> to start over".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .loop import state_path

__all__ = ["option_flag", "setting_change", "refused_resume"]


def option_flag(key: str, renames: Mapping[str, str] | None = None, value=None) -> str:
    """The option that sets ``key``: ``renames[key]`` when it names one (a parameter whose option differs from it:
    ``{"method": "--proposals"}``), else ``--`` + ``key`` with ``_`` as ``-``; followed by `` value`` when given
    (``--nms greedy``)."""
    flag = (renames or {}).get(key) or "--" + key.replace("_", "-")
    return flag if value is None else f"{flag} {value}"


def setting_change(option: str, now, was) -> str:
    """One setting a resume found changed: ``--lr 0.01 now, 0.1 in that run`` (``option`` as :func:`option_flag`
    gives it; ``now``, ``was`` as the command line writes them)."""
    return f"{option} {now} now, {was} in that run"


def refused_resume(out, changes: Sequence[str], *, what: str = "settings", may_change: str | None = None,
                   start_over: str | None = None) -> str:
    """The message refusing to resume the run writing ``out`` (a training's ``--out``): ``cannot resume OUT: it was
    started with other WHAT (CHANGE; CHANGE; only MAY_CHANGE may change). Give the same, or START_OVER``, each change
    as :func:`setting_change` writes it. ``start_over`` defaults to deleting the run's state file
    (:func:`detector.nn.loop.state_path`)."""
    inside = "; ".join(changes) + (f"; only {may_change} may change" if may_change else "")
    over = start_over or f"delete {state_path(Path(out))} to start over"
    return f"cannot resume {out}: it was started with other {what} ({inside}). Give the same, or {over}"
