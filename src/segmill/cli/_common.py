"""Shared CLI plumbing: error handling, common options, output."""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import Iterator

import click

from ..errors import LossError, SegmillError, UsageError, one_line, spelled

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3

#: Commands whose input format flag is ``--from`` (the others take ``--format``).
_FROM_COMMANDS = ("convert", "split-instances")


def flag_spelling(command: str | None) -> dict:
    """How library messages name options inside ``command`` (see :func:`segmill.errors.spelling`)."""
    return {"format": "--from NAME" if command in _FROM_COMMANDS else "--format NAME", "force": "--force"}


def run_guarded(func):
    """Map every outcome of a command to its exit code and one line on stderr.

    - :class:`~segmill.errors.LossError` (strict conversions): exit 1;
    - any other :class:`~segmill.errors.SegmillError` (bad input or usage): exit 2;
    - anything else is a bug: ``segmill: internal error: <type>: <message>``
      and exit 3; ``SEGMILL_DEBUG=1`` re-raises it with its traceback.

    click's own exits (usage errors, ``--help``) pass through untouched.
    Inside the command, library messages name options by the command's flags
    (``--from F`` in ``convert``, ``--force``), not by Python keywords.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context(silent=True)
        try:
            with spelled(flag_spelling(ctx.info_name if ctx is not None else None)), _remote_session():
                return func(*args, **kwargs)
        except LossError as exc:
            click.echo(f"segmill: {exc}", err=True)
            sys.exit(EXIT_FINDINGS)
        except SegmillError as exc:
            click.echo(f"segmill: error: {one_line(exc)}", err=True)
            sys.exit(EXIT_ERROR)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("segmill: interrupted", err=True)
            sys.exit(130)
        except BaseException as exc:
            if os.environ.get("SEGMILL_DEBUG"):
                raise
            click.echo(f"segmill: internal error: {type(exc).__name__}: {one_line(exc)[:500]} "
                       "(a bug; SEGMILL_DEBUG=1 shows the traceback)", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


class DatasetPath(click.Path):
    """``click.Path`` that lets a URL (``s3://...``, ``memory://...``) through: the library reads it (docs/remote.md).

    A local path is checked as ``click.Path`` checks it (``exists=True`` and so on).
    """

    _URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")  # two characters at least: C://x is a drive

    def convert(self, value, param, ctx):
        if isinstance(value, str) and self._URL.match(value):
            return value
        return super().convert(value, param, ctx)


def _remote_session():
    """Remote inputs are copied once per command (detected, then read) and removed at its end."""
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..remote import session

    return session()


def quiet_option(func):
    """``--quiet``: no progress bars, no summary chatter."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary on stderr.")(func)


def _enter_budget(ctx: click.Context, _param, value):
    """Hold the command's run to the budget ``value`` (a size), released when the command ends."""
    if value is None:
        return None
    from .. import budget  # lazy: start-up time

    try:
        nbytes = budget.parse_size(value)
    except Exception as exc:  # UsageError: click's own usage error, exit 2
        raise click.BadParameter(str(exc).removeprefix("--memory-budget ")) from None
    ctx.with_resource(budget.using(nbytes))
    return None


def memory_budget_option(func):
    """``--memory-budget SIZE``: what a streaming run may keep in memory (:mod:`segmill.budget`)."""
    return click.option("--memory-budget", metavar="SIZE", callback=_enter_budget, expose_value=False,
                        help="What a streaming run keeps in memory: the size from which COCO files stream, index "
                             "spans, report entries and batches scale with it (512M, 2G; default 1G, or an eighth "
                             "of this machine's memory if less; env SEGMILL_MEMORY_BUDGET).")(func)


def force_option(never: str = "the source"):
    """``--force``: replace DST when it is empty or a previous output of the target format.

    Parameters
    ----------
    never : str
        What is never replaced, for the help text (``"the source"``, ``"a source"``).

    Returns
    -------
    callable
        The click decorator.
    """
    return click.option("--force", is_flag=True, help="Replace DST if it is empty or a previous output of the target "
                                                      f"format (never {never}).")


def setup_progress(quiet: bool) -> None:
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from .. import _progress

    _progress.enable(not quiet)


def emit(text, output: str | None) -> None:
    """Print ``text``, or write it atomically to ``output``; a newline is added when it does not end with one
    on the terminal.

    ``text`` is a string or an iterable of string chunks (a report made as it is written: each chunk is
    written as it comes, never the whole text held).
    """
    chunks = (text,) if isinstance(text, str) else text
    if output:
        # lazy: start-up time (segmill.cli imports no library module until a command runs)
        from .._atomic import write_chunks
        from ..remote import is_remote

        if is_remote(output):  # else "s3://b/r.json" would become a local folder "s3:"
            raise UsageError(f"{output}: reports are written to local files; give a local path")
        write_chunks(output, (c.encode("utf-8") for c in _joined(chunks)))
        return
    last = ""
    for part in _joined(chunks):
        if part:
            click.echo(part, nl=False)
            last = part
    if not last.endswith("\n"):
        click.echo("")


#: Characters of chunks gathered before a write (a report of a million findings is a million chunks).
_WRITE_CHARS = 1 << 20


def _joined(chunks) -> Iterator[str]:
    """``chunks`` gathered into strings of about :data:`_WRITE_CHARS` characters (the last one shorter)."""
    run: list[str] = []
    size = 0
    for c in chunks:
        run.append(c)
        size += len(c)
        if size >= _WRITE_CHARS:
            yield "".join(run)
            run, size = [], 0
    if run:
        yield "".join(run)
