"""A SIGTERM handled where Python drops exceptions (an at-fork hook, a finaliser) still stops the command (trial 57:
`detect train distill --workers 1` killed as an epoch's DataLoader forked printed "Exception ignored in
_releaseLock … Terminated", trained on to its last epoch and exited 0)."""

import gc
import signal
import time

import pytest

from cli.common import Terminated, sigterm_stops


class _KilledInFinaliser:
    def __del__(self):
        signal.raise_signal(signal.SIGTERM)  # the handler runs here, inside __del__: its exception is unraisable


def test_sigterm_in_a_finaliser_still_stops():
    with pytest.raises(Terminated):
        with sigterm_stops():
            obj = _KilledInFinaliser()
            del obj
            gc.collect()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the run going on
                time.sleep(0.01)


def test_sigterm_outside_finalisers_unchanged_and_hook_restored():
    import sys
    hook = sys.unraisablehook
    with pytest.raises(Terminated):
        with sigterm_stops():
            signal.raise_signal(signal.SIGTERM)
    assert sys.unraisablehook is hook
