"""Shared CLI plumbing: error handling, common options, output."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import LossError, SegmillError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def run_guarded(func):
    """Turn segmill errors into a one-line message on stderr and exit code 2.

    :class:`~segmill.errors.LossError` (strict conversions) exits 1. Unexpected
    exceptions are not swallowed: they are bugs and should show a traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LossError as exc:
            click.echo(f"segmill: {exc}", err=True)
            sys.exit(EXIT_FINDINGS)
        except SegmillError as exc:
            click.echo(f"segmill: error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except MemoryError:
            click.echo("segmill: error: out of memory (is an image size absurd?)", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


def quiet_option(func):
    """``--quiet``: no progress bars, no summary chatter."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary on stderr.")(func)


def setup_progress(quiet: bool) -> None:
    from .. import _progress

    _progress.enable(not quiet)


def emit(text: str, output: str | None) -> None:
    """Print ``text``, or write it atomically to ``output``."""
    if output:
        from .._atomic import write_bytes

        write_bytes(output, text.encode("utf-8"))
    else:
        click.echo(text, nl=not text.endswith("\n"))
