"""Agreement of annotators on 3-D label volumes (NIfTI, NRRD), in physical units.

``segmill agree A.nii.gz B.nii.gz --surface`` compares whole volumes, not
slices: per label, Dice, HD, HD95, ASSD and surface Dice from
:func:`segmill.agree.surface.surface_metrics` on the 3-D arrays with the
voxel spacing of the files (millimetres for medical volumes), for every pair
of annotators. Inputs are paired by volume name (two single files are paired
whatever their names); the two volumes of a pair must have the same shape
and the same spacing (to 1e-6 relative), else the input is refused (exit 2).

Consensus (``--consensus majority|staple``) is built per volume: majority
gives each voxel the label most annotators gave it (ties go to the smaller
label value, so background wins a tie with a label); STAPLE is the
multi-class EM of :mod:`segmill.agree.staple`, each voxel getting the label
of highest posterior probability. The consensus is written as a volume
dataset with the first annotator's header (spacing and orientation).
"""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, SegmillError
from .staple import PatternHistogram, staple_patterns
from .surface import surface_metrics

__all__ = ["VOLUME_FORMATS", "VolumeRun", "compare_volumes", "consensus_volumes", "load", "render_text", "run",
           "volume_formats"]

VOLUME_FORMATS = ("nifti", "nrrd")
#: Relative tolerance on the spacings of two volumes compared.
SPACING_RTOL = 1e-6


def volume_formats(paths, fmts) -> list[str] | None:
    """The volume format of each input when every one is a NIfTI or NRRD volume (or folder), else ``None``."""
    # lazy: start-up time (the registry loads every format)
    from ..io import detect_format

    out = []
    for p, f in zip(paths, fmts):
        if f is None:
            try:
                f = detect_format(p)[0]
            except SegmillError:  # undetectable input: the ordinary agree path reports it
                return None
        if f not in VOLUME_FORMATS:
            return None
        out.append(f)
    return out


@dataclass
class Annotator:
    """One annotator's volumes: ``{name: Volume}`` and the label table."""

    name: str
    volumes: dict
    table: dict
    fmt: str


def load(path, fmt: str, name: str) -> Annotator:
    """The volumes of ``path`` read by the ``fmt`` format module (``nifti`` or ``nrrd``)."""
    mod = importlib.import_module(f"segmill.formats.{fmt}")
    vols, table = mod.volumes(path)
    return Annotator(name, {v.name: v for v in vols}, table, fmt)


def _pairs(annotators: list[Annotator]) -> list[tuple[str, list]]:
    """``[(volume name, [Volume of each annotator])]``: by name, or the one volume of each when all hold one."""
    if all(len(a.volumes) == 1 for a in annotators):
        vols = [next(iter(a.volumes.values())) for a in annotators]
        return [(vols[0].name, vols)]
    names = sorted(set.intersection(*(set(a.volumes) for a in annotators)))
    if not names:
        raise InputError("no volume name is common to every annotator: nothing to compare")
    return [(n, [a.volumes[n] for a in annotators]) for n in names]


def _check(name: str, vols: list, annotators: list[Annotator]) -> tuple:
    """The shared spacing of a pair of volumes; shapes and spacings checked."""
    ref = vols[0]
    for a, v in zip(annotators[1:], vols[1:]):
        if v.array.shape != ref.array.shape:
            raise InputError(f"volume {name}: {a.name}'s shape {v.array.shape} differs from "
                             f"{annotators[0].name}'s {ref.array.shape}")
        if not np.allclose(v.spacing, ref.spacing, rtol=SPACING_RTOL, atol=0):
            raise InputError(f"volume {name}: {a.name}'s spacing {tuple(v.spacing)} differs from "
                             f"{annotators[0].name}'s {tuple(ref.spacing)}")
    return tuple(float(s) for s in ref.spacing)


def _label_names(annotators: list[Annotator]) -> dict:
    out = {}
    for a in annotators:
        for v, e in a.table.items():
            out.setdefault(v, e.name)
    return out


@dataclass
class VolumeReport:
    """The per-volume, per-pair, per-label surface scores."""

    names: list
    tolerance: float
    volumes: list = field(default_factory=list)
    consensus: dict | None = None

    def to_dict(self) -> dict:
        doc = {"annotators": self.names, "surface_tolerance": self.tolerance, "units": "spacing (mm)",
               "volumes": self.volumes}
        if self.consensus is not None:
            doc["consensus"] = self.consensus
        return doc


def compare_volumes(annotators: list[Annotator], tolerance: float) -> VolumeReport:
    """Surface metrics of every annotator pair on every common volume (module docs)."""
    report = VolumeReport([a.name for a in annotators], float(tolerance))
    names = _label_names(annotators)
    for vname, vols in _pairs(annotators):
        spacing = _check(vname, vols, annotators)
        pairs = []
        for i, j in itertools.combinations(range(len(vols)), 2):
            rows = surface_metrics(vols[i].array, vols[j].array, spacing=spacing, tolerance=tolerance)
            for r in rows:
                r["name"] = names.get(r["label"], f"label_{r['label']}")
            pairs.append({"a": annotators[i].name, "b": annotators[j].name, "labels": rows})
        report.volumes.append({"volume": vname, "shape": list(vols[0].array.shape), "spacing": list(spacing),
                               "pairs": pairs})
    return report


def majority(stack: np.ndarray) -> np.ndarray:
    """Per voxel the most frequent label of ``stack`` (annotators on axis 0); ties to the smaller label."""
    values = np.unique(stack)
    best = np.zeros(stack.shape[1:], stack.dtype)
    best_n = np.full(stack.shape[1:], -1, np.int32)
    for v in values.tolist():  # ascending: a later value wins only with strictly more votes
        n = (stack == v).sum(0, dtype=np.int32)
        win = n > best_n
        best[win] = v
        best_n[win] = n[win]
    return best


def staple(stack: np.ndarray) -> tuple[np.ndarray, dict]:
    """Multi-class STAPLE labels of ``stack`` and a summary (iterations)."""
    values = np.unique(stack)
    index = np.searchsorted(values, stack).reshape(stack.shape[0], -1)
    hist = PatternHistogram(stack.shape[0], len(values))
    pats, inv = hist.encode(index)
    counts = np.bincount(inv, minlength=pats.shape[0])
    res = staple_patterns(pats, counts, len(values))
    choice = np.argmax(res.probabilities, axis=1)
    out = values[choice[inv]].reshape(stack.shape[1:]).astype(stack.dtype)
    return out, {"iterations": int(res.iterations)}


def consensus_volumes(annotators: list[Annotator], method: str):
    """The consensus volumes (first annotator's headers) and a summary per volume."""
    out, summary = [], {"method": method, "volumes": {}}
    for vname, vols in _pairs(annotators):
        _check(vname, vols, annotators)
        stack = np.stack([v.array.astype(np.uint16) for v in vols])
        arr, info = (majority(stack), {}) if method == "majority" else staple(stack)
        ref = vols[0]
        top = int(arr.max()) if arr.size else 0
        arr = arr.astype(ref.array.dtype if top <= np.iinfo(ref.array.dtype).max else np.uint16)
        out.append(type(ref)(ref.name, arr, ref.spacing, ref.header, ref.fmt, ref.shape, ref.dtype))
        summary["volumes"][vname] = {**info, "voxels_labelled": int(np.count_nonzero(arr))}
    return out, summary


def render_text(report: VolumeReport) -> str:
    """The report as a text table."""
    lines = [f"volume agreement (surface tolerance {report.tolerance:g}, distances in the volumes' units)"]
    for v in report.volumes:
        lines.append(f"\nvolume {v['volume']}  shape {'x'.join(map(str, v['shape']))}  spacing "
                     f"{', '.join(f'{s:g}' for s in v['spacing'])}")
        for p in v["pairs"]:
            lines.append(f"  {p['a']} vs {p['b']}")
            lines.append(f"    {'label':<20} {'dice':>8} {'hd95':>9} {'hd':>9} {'assd':>9} {'surf.dice':>9}")
            for r in p["labels"]:
                lines.append(f"    {str(r['label']) + ' ' + r['name']:<20} {_num(r['dice'])} {_num(r['hd95'], 9)} "
                             f"{_num(r['hd'], 9)} {_num(r['assd'], 9)} {_num(r['surface_dice'], 9)}")
    if report.consensus:
        lines.append(f"\nconsensus ({report.consensus['method']}) written to {report.consensus.get('output')}")
    return "\n".join(lines) + "\n"


def _num(x, width: int = 8) -> str:
    return f"{'-':>{width}}" if x is None else f"{x:>{width}.4f}"


@dataclass(frozen=True)
class VolumeRun:
    """What ``segmill agree`` passes to :func:`run` for volume inputs."""

    paths: tuple
    formats: tuple
    names: list | None
    tolerance: float
    consensus: str | None = None
    consensus_out: str | None = None
    to_format: str | None = None
    force: bool = False


def run(job: VolumeRun) -> tuple[VolumeReport, object]:
    """Compare the volumes of ``job`` and write the consensus when asked: the report and the write report."""
    # lazy: start-up time (writing loads the format registry)
    from .. import write

    names = job.names or [Path(p).name for p in job.paths]
    if len(set(names)) < len(names):  # two folders of one name: their paths tell them apart
        names = [str(p) for p in job.paths] if not job.names else names
    if len(names) != len(job.paths):
        raise InputError(f"{len(names)} names for {len(job.paths)} annotators")
    annotators = [load(p, f, n) for p, f, n in zip(job.paths, job.formats, names)]
    report = compare_volumes(annotators, job.tolerance)
    wrep = None
    if job.consensus:
        vols, summary = consensus_volumes(annotators, job.consensus)
        fmt = job.to_format or annotators[0].fmt
        mod = importlib.import_module(f"segmill.formats.{annotators[0].fmt}")
        ds = mod.slices_dataset(vols, annotators[0].table)
        wrep = write(ds, job.consensus_out, fmt, force=job.force, sources=list(job.paths))
        report.consensus = {**summary, "output": str(job.consensus_out), "format": fmt}
    return report, wrep
