"""Run the selected rules over one or more datasets and collect findings."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Sequence

from .. import io
from .._fields import without_init
from .._gc import no_gc
from .._progress import track
from ..model import Dataset
from .config import Config
from .context import Context
from .finding import Finding
from .registry import select_rules
from .result import CheckResult

__all__ = ["check", "check_path", "check_datasets", "HitColumns"]


def _finding(code, severity, message, file, item_id, annotation_id, data, key) -> Finding:
    """``Finding(code, severity, ...)`` for values the engine vouches for, without the dataclass's
    ``__init__`` (a check may make hundreds of thousands; the frozen ``__init__`` makes eight
    ``object.__setattr__`` calls): the same fields set, in order."""
    return without_init(Finding, code=code, severity=severity, message=message, file=file, item_id=item_id,
                        annotation_id=annotation_id, data=data, key=key)


def _same_as_the_dataclass() -> bool:
    """Whether :func:`_finding` still builds what ``Finding(...)`` builds (fields, class, values)."""
    if [f.name for f in fields(Finding)] != ["code", "severity", "message", "file", "item_id", "annotation_id",
                                             "data", "key"] or hasattr(Finding, "__post_init__"):
        return False
    args = ("C001", "info", "m", "f.json", 1, 2, {"x": 1}, "k")
    try:
        ours = _finding(*args)
    except AttributeError:  # Finding got __slots__: its instances have no __dict__
        return False
    real = Finding(*args)
    return type(ours) is Finding and ours == real and vars(ours) == vars(real)


if not _same_as_the_dataclass():  # pragma: no cover - the shortcut no longer builds the same object
    _finding = Finding


class HitColumns:
    """Many hits of one rule at once, as columns: what a rule may yield instead of as many :class:`Hit`.

    A rule reporting hundreds of thousands of pairs spends most of its time
    making objects; columns let it build the parts of its findings in a few
    comprehensions, and the engine the findings in one loop. The findings
    are the ones the equivalent :class:`Hit` objects give, in order.

    Parameters
    ----------
    messages, item_ids, annotation_ids, data, keys : list
        One entry per hit. The ``data`` dicts are the findings' own (the
        engine does not copy them, as it copies a :class:`Hit`'s).
    file : str, optional
        The file of every hit (None: the dataset's).
    """

    __slots__ = ("messages", "item_ids", "annotation_ids", "data", "keys", "file")

    def __init__(self, messages: list, item_ids: list, annotation_ids: list, data: list, keys: list,
                 file: str | None = None):
        self.messages = messages
        self.item_ids = item_ids
        self.annotation_ids = annotation_ids
        self.data = data
        self.keys = keys
        self.file = file

    def findings(self, code: str, severity: str, file: str | None) -> list[Finding]:
        """The findings, with ``file`` where the hits name none."""
        if self.file is not None:
            file = self.file
        make = _finding
        return [make(code, severity, m, file, iid, aid, d, k) for m, iid, aid, d, k in
                zip(self.messages, self.item_ids, self.annotation_ids, self.data, self.keys)]


def _resolve(config, select, ignore):
    cfg = config or Config()
    if select is not None or ignore is not None:
        cfg = cfg.override(select=select, ignore=ignore)
    return cfg


def check_datasets(datasets: Sequence[tuple[Dataset, str | None]], *, config: Config | None = None,
                   select=None, ignore=None, timings: dict | None = None, sink=None) -> CheckResult:
    """Check several datasets (splits, files) together.

    Every rule runs on each dataset; rules that compare datasets (C005: one
    category name, different ids) also compare them with each other.

    Parameters
    ----------
    datasets : sequence of (Dataset, path or None)
    config, select, ignore, timings :
        As :func:`check`.
    sink : callable, optional
        ``sink(code)`` -> a list-like (``append``, ``extend``, ``len``) that
        takes the rule's findings as they come, instead of the result's
        list (which is then empty): a streamed check spills them.
    """
    with no_gc():
        return _check_datasets(datasets, config, select, ignore, timings, sink)


def _shared_seconds(contexts) -> dict:
    """Seconds spent so far building each shared table, summed over the contexts."""
    out: dict = {}
    for ctx in contexts:
        for name, sec in ctx.build_seconds.items():
            out[name] = out.get(name, 0.0) + sec
    return out


def _record(timings: dict, code: str, seconds: float, found: int, before: dict, after: dict) -> None:
    """Put one rule's own seconds and findings in ``timings``, and the shared builds it triggered."""
    built = 0.0
    for name, sec in after.items():
        d = sec - before.get(name, 0.0)
        if d > 0:
            built += d
            timings[f"shared: {name}"] = (timings.get(f"shared: {name}", (0.0, 0))[0] + d, 0)
    timings[code] = (seconds - built, found)


def _check_datasets(datasets, config, select, ignore, timings=None, sink=None) -> CheckResult:
    cfg = _resolve(config, select, ignore)
    rules = select_rules(cfg.select, cfg.ignore, cfg.extend_select)
    severities = {r.code: cfg.severity.get(r.code, r.severity) for r in rules}
    image_root = Path(cfg.image_root) if cfg.image_root else None
    contexts = []
    for ds, p in datasets:
        root = None
        if p is not None:
            pp = Path(p)
            root = pp if pp.is_dir() else pp.parent
        contexts.append(Context(ds, str(p) if p is not None else None, root, image_root))
    for ctx in contexts:
        ctx.siblings = contexts
    findings: list[Finding] = []
    for r in track(rules, total=len(rules), desc="check"):
        opts = {**r.options, **cfg.options.get(r.code, {})}
        sev = severities[r.code]
        out = findings if sink is None else sink(r.code)
        add = out.append
        if timings is not None:
            t0, n0, built0 = time.perf_counter(), len(out), _shared_seconds(contexts)
        for ctx in contexts:
            for hit in r.func(ctx, **opts):
                if type(hit) is HitColumns:
                    out.extend(hit.findings(r.code, sev, ctx.file))
                    continue
                add(_finding(r.code, sev, hit.message, hit.file if hit.file is not None else ctx.file,
                             hit.item_id, hit.annotation_id, dict(hit.data), hit.key))
        if timings is not None:
            _record(timings, r.code, time.perf_counter() - t0, len(out) - n0, built0,
                    _shared_seconds(contexts))
    for ctx in contexts:
        # Contexts list each other (siblings): break the cycle so the datasets
        # and caches go as soon as the caller drops them, not at the next
        # full collection (which would walk every annotation once more).
        ctx.siblings = []
    return CheckResult(
        findings=findings,
        rules=rules,
        severities=severities,
        fail_on=cfg.fail_on,
        paths=[str(p) for _, p in datasets if p is not None],
        images=sum(len(ds.items) for ds, _ in datasets),
        annotations=sum(ds.num_annotations for ds, _ in datasets),
    )


def check(dataset: Dataset, *, config: Config | None = None, select=None, ignore=None, path=None,
          timings: dict | None = None) -> CheckResult:
    """Check a dataset held in memory.

    Parameters
    ----------
    dataset : Dataset
        Best read with ``errors="keep"`` so that malformed records reach the
        rules (see :func:`check_path`).
    config : Config, optional
        Settings (see :func:`segmill.check.config.load_config`); defaults when omitted.
    select, ignore : list of str, optional
        Rule codes or prefixes; ``select`` replaces the configured selection,
        ``ignore`` adds to the configured one.
    path : path, optional
        Where the dataset was read from: names the file in findings and is the
        root for image files (unless the config or the reader says otherwise).
    timings : dict, optional
        A profile, filled when given: rule code -> ``(seconds, findings)``,
        and ``"shared: NAME"`` -> ``(seconds, 0)`` for each shared table
        (pixels, pairs, ...) built on first use; a rule's seconds leave out
        the shared tables it caused to be built. The engine times itself only
        when asked.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> from segmill import Dataset, Category, Item
    >>> ds = Dataset(categories=[Category(1, "cat")], items=[Item(1, "a.png", 4, 4), Item(1, "b.png", 4, 4)])
    >>> [f.code for f in check(ds, select=["S001"]).findings]
    ['S001']
    """
    return check_datasets([(dataset, path)], config=config, select=select, ignore=ignore, timings=timings)


def check_path(path, *, format: str | None = None, config: Config | None = None, select=None, ignore=None,
               timings: dict | None = None, **read_options) -> CheckResult:
    """Read a dataset leniently and check it.

    The reader runs with ``errors="keep"``: malformed geometry arrives as
    :class:`~segmill.geometry.InvalidGeometry`, duplicate ids and dangling
    references are kept, so the rules can report them. Input that cannot be
    parsed at all still raises :class:`~segmill.errors.InputError`.

    Parameters
    ----------
    path : path or sequence of paths
        A dataset file or folder, or several (splits) checked together.
    format : str, optional
        Format name; detected when omitted.
    config, select, ignore :
        As :func:`check`.
    timings : dict, optional
        As :func:`check`, plus ``"read"`` -> ``(seconds, 0)``.
    **read_options
        Passed to the reader.
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    with no_gc():  # one pause for reading and checking: no collection walks the new dataset in between
        t0 = time.perf_counter()
        datasets = [(io.read(p, format, errors="keep", **read_options), str(p)) for p in paths]
        if timings is not None:
            timings["read"] = (time.perf_counter() - t0, 0)
        return check_datasets(datasets, config=config, select=select, ignore=ignore, timings=timings)
