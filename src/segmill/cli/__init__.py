"""The ``segmill`` command line: a thin click layer over the library.

Each command lives in its own module here and attaches itself to :data:`main`
with ``@main.command()``; a module is imported when its command is first
asked for (``segmill check`` never imports the agreement or gate code), and
``--help`` imports them all. Exit codes everywhere: 0 ok, 1 findings / losses
under ``--strict`` / thresholds failed, 2 usage or input error, 3 internal
error (see :func:`segmill.cli._common.run_guarded`).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__

#: Command name -> the module (in this package) that defines it.
_COMMANDS = {"info": "info", "convert": "convert", "formats": "formats_cmd", "split-instances": "split",
             "check": "check_cmd", "rules": "check_cmd", "fix": "fix_cmd", "merge": "merge_cmd",
             "agree": "agree_cmd", "diff": "diff_cmd", "gate": "gate_cmd", "tile": "tile_cmd",
             "untile": "tile_cmd"}


class _LazyGroup(click.Group):
    """A group whose command modules are imported on first use (start-up time)."""

    def list_commands(self, ctx) -> list[str]:
        return sorted(set(_COMMANDS) | set(self.commands))

    def get_command(self, ctx, cmd_name):
        module = _COMMANDS.get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            # a missing module is an ImportError: a command never vanishes silently
            importlib.import_module(f"{__name__}.{module}")
        return self.commands.get(cmd_name)


def command(name: str) -> click.Command:
    """The command ``name`` (its module imported)."""
    cmd = main.get_command(None, name)
    if cmd is None:
        raise KeyError(name)
    return cmd


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="segmill")
def main() -> None:
    """Convert, check, compare and gate segmentation datasets.

    Exit codes: 0 ok, 1 findings or failed thresholds, 2 usage or input error,
    3 internal error (a bug; SEGMILL_DEBUG=1 shows the traceback).
    """


def run() -> None:
    """The console entry point: :data:`main`, then leave without tearing the heap down.

    A command that read a million annotations would spend a second freeing
    them one by one at interpreter exit; every file has been written (and
    closed or renamed) by then, so the process flushes its streams and exits
    with the command's code. Tests call :data:`main` through click's runner
    and never get here.
    """
    try:
        main(standalone_mode=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`segmill info | head -1`): nothing left to say
            pass
    os._exit(code)
