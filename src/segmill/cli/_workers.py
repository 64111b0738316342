"""``--workers N`` / ``--scheduler ADDRESS``: run a command's shards on dask.distributed.

:func:`workers_options` adds both flags to a command (placed right above
``run_guarded``) and keeps them out of the command's arguments; inside the
command, :func:`sharding` gives ``None`` (a single-process run) or a
:class:`Sharding` whose methods do what the command does, shard by shard
(see :mod:`segmill.distributed`). The cluster starts at the first use and
stops when the command ends.
"""

from __future__ import annotations

import contextlib
import functools

import click

__all__ = ["SCHEDULER_ENV", "Sharding", "sharding", "workers_options"]

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
_KEY = "segmill.sharding"


class Sharding:
    """Where a sharded run goes: a LocalCluster of ``workers`` processes, or an existing ``scheduler``."""

    def __init__(self, workers: int | None, scheduler: str | None):
        self.workers, self.scheduler = workers, scheduler
        self._client = None
        self._stack = contextlib.ExitStack()

    def client(self):
        """The dask client (the cluster started on first use; closed with the command)."""
        if self._client is None:
            # lazy: dask is optional and slow to import; only sharded runs pay for it
            from ..distributed import connect

            self._client = self._stack.enter_context(connect(self.workers, self.scheduler))
            ctx = click.get_current_context(silent=True)
            if ctx is not None:
                ctx.call_on_close(self._stack.close)
        return self._client

    @property
    def n(self) -> int:
        """How many workers the cluster has (shards are cut for them)."""
        if self.workers:
            return self.workers
        return max(1, len(self.client().scheduler_info().get("workers", {})))

    def info(self, path, format: str, options: dict):
        """``(summary, header)`` of :func:`segmill.distributed.summarize_sharded`."""
        from .. import _progress  # lazy: start-up time (segmill.cli imports no library module until a command runs)
        from ..distributed import summarize_sharded  # lazy: see client()

        _progress.enable(True)  # info has no --quiet; a sharded count is long enough to show shards done / total
        return summarize_sharded(self.client(), path, format, options, self.n)

    def convert(self, src, dst, from_format, to_format, **kwargs):
        """:func:`segmill.convert`, reading shard by shard."""
        from ..distributed import convert_sharded  # lazy: see client()

        return convert_sharded(self.client(), self.n, src, dst, from_format, to_format, **kwargs)

    def check(self, paths, **kwargs):
        """:func:`segmill.check.check_path`, rules run shard by shard."""
        from ..distributed import check_sharded  # lazy: see client()

        return check_sharded(self.client(), self.n, paths, **kwargs)

    def agree(self, datasets, names, settings, paths, formats):
        """:func:`segmill.agree.compare`, images measured shard by shard (workers read ``paths`` again)."""
        from ..distributed import AgreeSources, measure_sharded  # lazy: see client()

        return measure_sharded(self.client(), self.n, datasets, names, settings,
                               AgreeSources(tuple(str(p) for p in paths), tuple(formats)))


def sharding() -> Sharding | None:
    """The running command's :class:`Sharding`, or ``None`` for a single-process run.

    Raises
    ------
    segmill.errors.UsageError
        A sharded run without dask installed (naming ``segmill[dask]``), or
        both ``--workers`` and ``--scheduler``.
    """
    ctx = click.get_current_context(silent=True)
    got = None if ctx is None else ctx.meta.get(_KEY)
    if got is None:
        return None
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..distributed import require_distributed

    require_distributed()
    return got


def workers_options(func):
    """Add ``--workers`` and ``--scheduler`` to a command (place it right above ``run_guarded``)."""

    @click.option("--workers", type=click.IntRange(min=1), metavar="N",
                  help="Run shards on a local dask cluster of N worker processes (needs segmill[dask]).")
    @click.option("--scheduler", metavar="ADDRESS", envvar=SCHEDULER_ENV, show_envvar=True,
                  help="Run shards on the dask cluster whose scheduler is at ADDRESS (tcp://host:8786).")
    @functools.wraps(func)
    def wrapper(*args, workers=None, scheduler=None, **kwargs):
        ctx = click.get_current_context()
        explicit = ctx.get_parameter_source("scheduler") == click.core.ParameterSource.COMMANDLINE
        if workers and explicit and scheduler:
            raise click.UsageError("give --workers N (a local cluster) or --scheduler ADDRESS, not both")
        if workers:
            scheduler = None  # --workers wins over $DASK_SCHEDULER_ADDRESS
        if workers or scheduler:
            ctx.meta[_KEY] = Sharding(workers, scheduler)
        return func(*args, **kwargs)

    return wrapper
