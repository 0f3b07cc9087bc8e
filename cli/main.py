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

import logging  # noqa: E402 - the handler above first

import click  # noqa: E402

from detector import __version__  # noqa: E402
from detector.nn.device import DeviceError  # noqa: E402

from .common import Terminated, sigterm_stops  # noqa: E402
from .eval_cmd import eval_cmd  # noqa: E402
from .inspect_cmd import inspect_cmd  # noqa: E402
from .merge_cmd import merge_cmd  # noqa: E402
from .proposals_cmd import proposals_cmd  # noqa: E402
from .run_cmd import run_cmd  # noqa: E402
from .train_cmd import train_group  # noqa: E402

if _QUIET_START:  # imported: Ctrl-C is KeyboardInterrupt again, which each command handles
    signal.signal(signal.SIGINT, signal.default_int_handler)
if _QUIET_TERM:  # imported: a command's SIGTERM is sigterm_stops'; before it starts (parsing), the default again
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class DetectGroup(click.Group):
    """The command group; an operating-system error nothing below handled (a file that cannot be written: a
    read-only folder, a full disk, a path through a plain file) and an unusable ``--device`` end the command with
    an error naming the file or the option and exit status 1, not a traceback; Ctrl-C with "Aborted!" and exit
    status 130 (128 + SIGINT), whenever it comes; SIGTERM, once the command has started, after its clean-up, with
    status 143."""

    def invoke(self, ctx):
        try:
            with sigterm_stops():  # clean-up runs on SIGTERM too (a run's lock file is removed: user trial)
                return super().invoke(ctx)
        except KeyboardInterrupt:  # click would exit 1; 130 (128 + SIGINT) as while starting and as shells expect
            sys.stderr.write("\nAborted!\n")
            raise SystemExit(130) from None
        except Terminated:
            sys.stderr.write("\nTerminated\n")
            raise SystemExit(128 + signal.SIGTERM) from None
        except DeviceError as e:
            raise click.ClickException(str(e)) from None
        except BrokenPipeError:  # `detect inspect … | head`: click ends quietly (status 1), not "Error: Broken pipe"
            raise
        except OSError as e:
            where = e.filename if e.filename is not None else ""
            also = f" → {e.filename2}" if getattr(e, "filename2", None) else ""
            raise click.ClickException(f"{where}{also}: {e.strerror or e}" if where else str(e)) from None


@click.group(cls=DetectGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="detect")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose):
    """GoogLeNet detection (ILSVRC 2014): proposals, Inception region classifiers, ILSVRC-exact evaluation."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(run_cmd)
cli.add_command(inspect_cmd)
cli.add_command(eval_cmd)
cli.add_command(train_group)
cli.add_command(proposals_cmd)
cli.add_command(merge_cmd)


if __name__ == "__main__":  # pragma: no cover
    cli()
