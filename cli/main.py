"""The ``detect`` command group."""

from __future__ import annotations

import os
import signal
import sys
import threading


def _importing_for_a_child() -> bool:
    """Whether this module is being imported by a multiprocessing child preparing itself — the forkserver of the
    selective-search workers preloads the main module (this one, or the ``detect`` script that imports it) — not by
    a command starting. A Ctrl-C in a terminal (or ``timeout``'s signal) reaches the whole process group: the command
    itself says "Aborted!", its forkserver must not say it again (user trial)."""
    mp_process = sys.modules.get("multiprocessing.process")
    return mp_process is not None and bool(getattr(mp_process.current_process(), "_inheriting", False))


def _interrupted_while_starting(signum, frame):  # Ctrl-C or SIGTERM while torch and the rest import: nothing to
    # keep yet; what click says on Ctrl-C (not an import's traceback: user trial), and on SIGTERM what a started
    # command says, with the same exit status (128 + the signal); a multiprocessing child ends without a word
    if not _CHILD:
        sys.stderr.write("\nAborted!\n" if signum == signal.SIGINT else "\nTerminated\n")
        sys.stderr.flush()
    os._exit(128 + signum)


_CHILD = _importing_for_a_child()


_QUIET_START = threading.current_thread() is threading.main_thread() and \
    signal.getsignal(signal.SIGINT) is signal.default_int_handler
_QUIET_TERM = threading.current_thread() is threading.main_thread() and \
    signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
if _QUIET_START:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
if _QUIET_TERM:
    signal.signal(signal.SIGTERM, _interrupted_while_starting)


class _CommandsOnFirstUse:
    """``cli`` in a multiprocessing child: the command group, imported only when the child calls it or looks into
    it. A selective-search worker (forkserver or spawn) imports the main module — the `detect` script, hence this
    one — before its first task and never runs a command: importing them (torch, torchvision, the CLI) cost each
    worker 2.4 s before its first image, which the run waited for, and 450 MB (measured: the fast preset on 50
    images, 13.4-14.1 s against 10.7-11.8 s when the main module was not imported; README "Speed"). A program's own
    worker (spawn or forkserver, Python 3.14's default) whose module did ``from cli.main import cli`` while the
    child prepared itself does run commands with it: ``cli = None`` there failed with "'NoneType' object is not
    callable" (user trial)."""

    def __call__(self, *args, **kwargs):
        from .group import cli as group
        return group(*args, **kwargs)

    def __getattr__(self, name):
        from .group import cli as group
        return getattr(group, name)


if _CHILD:
    cli = _CommandsOnFirstUse()
else:
    from .group import cli  # noqa: E402 - the handler above first

if _QUIET_START:  # imported: Ctrl-C is KeyboardInterrupt again, which each command handles
    signal.signal(signal.SIGINT, signal.default_int_handler)
if _QUIET_TERM:  # imported: a command's SIGTERM is sigterm_stops'; before it starts (parsing), the default again
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":  # pragma: no cover
    cli()
