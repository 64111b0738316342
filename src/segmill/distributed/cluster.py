"""Where sharded work runs: a dask.distributed ``LocalCluster`` or an existing scheduler.

``dask[distributed]`` is optional (``pip install 'segmill[dask]'``); without
it :func:`connect` raises a :class:`~segmill.errors.UsageError` naming the
extra, so ``--workers`` fails with exit 2 and nothing is read or written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from ..errors import UsageError

__all__ = ["SCHEDULER_ENV", "UNTRIMMED", "connect", "require_distributed"]

#: The environment variable naming an existing scheduler (as dask's own tools read it).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def require_distributed():
    """The ``distributed`` module, or a :class:`UsageError` naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise UsageError("sharded runs (--workers, --scheduler) need dask.distributed: "
                         "pip install 'segmill[dask]'") from None
    return distributed


@contextlib.contextmanager
def connect(workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A ``distributed.Client``: on ``scheduler`` when given, else on a new LocalCluster of ``workers`` processes.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the LocalCluster (one thread each).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); default:
        ``$DASK_SCHEDULER_ADDRESS`` when ``workers`` is not given.

    Yields
    ------
    distributed.Client
        Closed (and the LocalCluster shut down) on exit.
    """
    distributed = require_distributed()
    scheduler = scheduler or (None if workers else os.environ.get(SCHEDULER_ENV) or None)
    if scheduler is None and not workers:
        raise UsageError("a sharded run needs --workers N or --scheduler ADDRESS")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny"):
        logging.getLogger(name).setLevel(logging.ERROR)  # the CLI prints one line per outcome, not dask's chatter
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with _local_config(), distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=":0") as cluster, \
            distributed.Client(cluster, direct_to_workers=True) as client:
        yield client


#: What dask's nanny puts in a new worker's environment that :func:`connect` leaves out.
UNTRIMMED = "MALLOC_TRIM_THRESHOLD_"


def _local_config():
    """Dask's configuration for a LocalCluster that :func:`connect` starts.

    What serves only someone watching the cluster is off or slowed: each
    worker's statistical profiler (a stack sample of the running task every
    10 ms, for the dashboard) and the 20 ms tick by which every server's
    event loop times itself (500 ms here). An idle 2-worker cluster spent
    105-145 ms of CPU a second (driver and workers) with them, 43-49
    without. (:func:`connect` also has the client take results straight
    from the workers, not through the scheduler.)

    The workers also start without ``MALLOC_TRIM_THRESHOLD_``. The nanny
    sets it (65536) so that workers give freed memory back. Set at all, it
    also fixes glibc's mmap threshold at 128 KiB: every array past that (a
    decoded 1500 x 2250 mask is 3.4 MB) is then mapped afresh and faulted
    in page by page, then unmapped. A sharded ``check`` of 192 SA-1B-like
    images spent 17.2 s of system time in 8.9 M page faults beside 32.5 s
    of user time (55 s wall); without it, 0.4 s in 5,400 (38.5 s). A
    variable already in the driver's environment still wins (as dask's own
    rule has it); workers of an existing cluster keep theirs (see
    ``docs/scale.md``).
    """
    # lazy: dask is an optional dependency (segmill[dask]); only called once it was found
    import dask

    return dask.config.set({f"distributed.nanny.pre-spawn-environ.{UNTRIMMED}": None,
                            "distributed.worker.profile.enabled": False,
                            "distributed.admin.tick.interval": "500ms"})
