"""The ``detect`` command group: every command, and how the group ends on errors and signals. Imported by
:mod:`cli.main` (the entry point), which first makes Ctrl-C during these imports quiet."""

from __future__ import annotations

import logging
import signal
import sys

import click

from detector import __version__
from detector.nn.device import DeviceError

from .common import Terminated, sigterm_stops
from .eval_cmd import eval_cmd
from .inspect_cmd import inspect_cmd
from .merge_cmd import merge_cmd
from .proposals_cmd import proposals_cmd
from .run_cmd import run_cmd
from .train_cmd import train_group


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
        except OSError as e:  # a full disk while writing a model: "m.pt: No space left on device"
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
