"""The ``segmill`` command line: a thin click layer over the library.

Each command lives in its own module here and attaches itself to :data:`main`
with ``@main.command()``. Exit codes everywhere: 0 ok, 1 findings / losses
under ``--strict`` / thresholds failed, 2 usage or input error, 3 internal
error (see :func:`segmill.cli._common.run_guarded`).
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

# Command modules, imported in this order.
_COMMANDS = ("info", "convert", "formats_cmd", "split", "check_cmd", "agree_cmd", "diff_cmd", "gate_cmd")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="segmill")
def main() -> None:
    """Convert, check, compare and gate segmentation datasets.

    Exit codes: 0 ok, 1 findings or failed thresholds, 2 usage or input error,
    3 internal error (a bug; SEGMILL_DEBUG=1 shows the traceback).
    """


for _name in _COMMANDS:  # a missing module is an ImportError: a command never vanishes silently
    importlib.import_module(f"{__name__}.{_name}")
