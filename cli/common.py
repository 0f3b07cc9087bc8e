"""Options and helpers shared by the ``detect`` commands."""

from __future__ import annotations

from pathlib import Path

import click

from detector.data import FORMATS, Dataset, DatasetError, read_dataset

FORMAT_CHOICES = ("auto", *FORMATS)


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True,
                        help="Annotation format; 'auto' tells it from the path.")(f)


def images_option(f):
    return click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                        help="Folder holding the image files, if not where the annotations suggest.")(f)


def load_dataset(path: Path, fmt: str, *, images=None, image_list=None, strict=True) -> Dataset:
    """Read ground truth for a command; broken input becomes a ClickException naming the file."""
    try:
        return read_dataset(path, None if fmt == "auto" else fmt, images=images, image_list=image_list,
                            strict=strict)
    except DatasetError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.ClickException(f"{path}: {e}") from None

