"""``segmill agree``: annotator agreement metrics and consensus."""

from __future__ import annotations

import json
import sys

import click

from . import main
from ._common import EXIT_FINDINGS, emit, memory_budget_option, quiet_option, run_guarded, setup_progress
from ._workers import sharding, workers_options


def _split_names(values) -> list[str] | None:
    if not values:
        return None
    out = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def _one_file_annotators(path, fmt, names):
    """The annotators of one file, as datasets, for a format that declares them; else a usage error."""
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..formats import get_format
    from ..io import detect_format

    spec = get_format(fmt or detect_format(path)[0])
    if spec.annotators is None:
        raise click.UsageError("agree needs at least two datasets, or one file holding several annotators' work "
                               f"(the {spec.name} format holds one annotator's)")
    found = spec.annotators(path)
    if len(found) < 2:
        raise click.UsageError(f"{path}: agree needs at least two annotators; this {spec.name} file holds "
                               f"{len(found)}: {', '.join(found) or 'none'}")
    return list(found.values()), names or list(found)


def _agree_volumes(paths, fmts, names, opts: dict) -> bool:
    """Agreement on 3-D volumes (segmill.agree.volumes) when every input is a NIfTI/NRRD volume; else False.

    ``opts``: the command's tolerance, method, out, to_format, force, output_format, output and quiet.
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..agree import volumes
    from ..agree.surface import DEFAULT_TOLERANCE
    from ..losses import describe

    vfmts = volumes.volume_formats(paths, fmts)
    if vfmts is None:
        return False
    tol = DEFAULT_TOLERANCE if opts["tolerance"] is None else opts["tolerance"]
    job = volumes.VolumeRun(tuple(paths), tuple(vfmts), names, tol, opts["method"], opts["out"], opts["to_format"],
                            opts["force"])
    report, wrep = volumes.run(job)
    emit(volumes.render_text(report) if opts["output_format"] == "text" else
         json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n", opts["output"])
    for code, k in (wrep.summary().items() if wrep is not None else ()):
        click.echo(f"segmill agree: consensus output lost information: {code} x{k}: {describe(code)}", err=True)
    if wrep is not None and not opts["quiet"]:
        click.echo(f"consensus ({opts['method']}) written to {opts['out']}", err=True)
    return True


def _write_consensus(cons, out, fmt: str, force: bool, sources) -> tuple:
    """Write the consensus stream ``cons`` (an image at a time where the format can): ``(report, images, regions)``."""
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from .. import io
    from ..formats import get_format
    from ..streaming import Stream

    counts = [0, 0]

    def counted(items):
        for it in items:
            counts[0] += 1
            counts[1] += len(it.annotations)
            yield it

    st = Stream(cons.header, counted(cons), True)
    st.item_order = cons.item_order
    if get_format(fmt).write_stream is not None:
        rep = io.write_stream(st, out, fmt, force=force, sources=sources)
    else:
        rep = io.write(st.to_dataset(), out, fmt, force=force, sources=sources)
    return rep, counts[0], counts[1]


@main.command("agree")
@click.argument("datasets", nargs=-1, required=True, type=click.Path())
@click.option("-f", "--format", "formats", multiple=True, metavar="F",
              help="Input format (detected when omitted); give once for all, or once per dataset.")
@click.option("--names", multiple=True, metavar="NAME",
              help="Annotator names, comma-separated or repeated (default: the file names).")
@click.option("--iou", type=float, default=0.5, show_default=True, help="Instances match when IoU > this.")
@click.option("--boundary-tolerance", type=float, default=2.0, show_default=True,
              help="Boundary F1 tolerance in pixels.")
@click.option("--surface", is_flag=True,
              help="Also measure surface distances per category: Dice, HD95, HD, ASSD, surface Dice.")
@click.option("--surface-tolerance", type=float, metavar="PX",
              help="Surface Dice tolerance in pixels (implies --surface).  [default: 1]")
@click.option("--match-by", type=click.Choice(["file_name", "id"]), default="file_name", show_default=True,
              help="How images are matched across annotators.")
@click.option("--reference", metavar="NAME", help="Rank annotators against this one (default: majority vote).")
@click.option("--void", multiple=True, metavar="CATEGORY", help="Category name whose pixels are void (repeatable).")
@click.option("--unlabeled", type=click.Choice(["background", "void"]), default="background", show_default=True,
              help="Pixels an annotator leaves unlabelled: background, or void (panoptic data).")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Also write a self-contained HTML page.")
@click.option("--lowest", type=click.IntRange(0), default=6, show_default=True,
              help="Lowest-agreement images drawn in the HTML page.")
@click.option("--images", "image_root", type=click.Path(file_okay=False),
              help="Image folder, to draw the HTML overlays on the photos.")
@click.option("--min-pq", type=float, help="Exit 1 when the overall PQ is below this.")
@click.option("--min-iou", type=float, help="Exit 1 when the pixel mean IoU is below this.")
@click.option("--min-kappa", type=float, help="Exit 1 when kappa (Cohen's for 2, Fleiss' for more) is below this.")
@click.option("--consensus", "consensus_method", type=click.Choice(["majority", "staple"]),
              help="Also build a consensus dataset with this method.")
@click.option("--consensus-mode", type=click.Choice(["multiclass", "binary"]), default="multiclass",
              show_default=True, help="One label per pixel, or each category on its own.")
@click.option("--consensus-out", type=click.Path(), help="Where to write the consensus dataset.")
@click.option("--to", "to_format", metavar="F", help="Consensus output format (default: the first input's).")
@click.option("--force", is_flag=True, help="Replace an existing --consensus-out.")
@quiet_option
@memory_budget_option
@workers_options
@run_guarded
def agree(datasets, formats, names, iou, boundary_tolerance, surface, surface_tolerance, match_by, reference, void,
          unlabeled, output_format, output, html_out, lowest, image_root, min_pq, min_iou, min_kappa, consensus_method,
          consensus_mode, consensus_out, to_format, force, quiet):
    """Measure how far annotators agree on the same images.

    DATASETS are two or more annotations of the same images, in any formats
    segmill reads, or one file that holds several annotators' work (a Label
    Studio export with several annotations per task). Reports instance matching (TP/FP/FN, PQ/SQ/RQ, label
    kappa), pixel IoU/Dice/accuracy/kappa, Fleiss' kappa, Krippendorff's
    alpha, boundary F1, and each annotator against the consensus; with
    --surface also Dice, HD95, HD, ASSD and surface Dice per category.

    Exit codes: 0 ok, 1 a --min-* threshold failed, 2 usage or input error.
    """
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from ..spilled import spill
    from ..io import check_destination
    from ..losses import describe
    from ..agree import compare, consensus_stream, report_html, report_json, report_text
    from ..agree.settings import AgreeSettings
    from ..agree.surface import DEFAULT_TOLERANCE

    if formats and len(formats) not in (1, len(datasets)):
        raise click.UsageError(f"give --format once, or once per dataset ({len(datasets)}), not {len(formats)} times")
    if consensus_method and not consensus_out:
        raise click.UsageError("--consensus needs --consensus-out PATH")
    if consensus_out and not consensus_method:
        raise click.UsageError("--consensus-out needs --consensus majority|staple")
    setup_progress(quiet)
    fmts = list(formats) * len(datasets) if len(formats) == 1 else list(formats) or [None] * len(datasets)
    if consensus_out and to_format:
        check_destination(consensus_out, to_format, force=force, sources=datasets)
    if surface and surface_tolerance is None:
        surface_tolerance = DEFAULT_TOLERANCE
    settings = AgreeSettings(iou=iou, boundary_tolerance=boundary_tolerance, match_by=match_by,
                             reference=reference, void=void, unlabeled=unlabeled,
                             surface_tolerance=surface_tolerance)
    names = _split_names(names)
    if len(datasets) > 1 and _agree_volumes(datasets, fmts, names, {
            "tolerance": surface_tolerance, "method": consensus_method, "out": consensus_out, "to_format": to_format,
            "force": force, "output_format": output_format, "output": output, "quiet": quiet}):
        return
    if len(datasets) == 1:
        loaded, names = _one_file_annotators(datasets[0], fmts[0], names)
    else:
        loaded = [spill(p, f) for p, f in zip(datasets, fmts)]  # a big COCO file waits on disk
    if (sharded := sharding()) is not None:
        report = sharded.agree(loaded, names, settings, datasets, fmts)
    else:
        report = compare(loaded, names, settings)
    cons = None
    if consensus_method:
        cons = consensus_stream(loaded, consensus_method, report.names, mode=consensus_mode, settings=settings)
        report.consensus = {k: v for k, v in cons.header.meta["consensus"].items() if k not in ("missing", "skipped")}
        report.consensus["output"] = str(consensus_out)
    if output_format == "json":
        emit(report_json.render_chunks(report), output)
    else:
        emit(report_text.render(report), output)
    if html_out:
        # lazy: start-up time (segmill.cli imports no library module until a command runs)
        from .._atomic import write_bytes

        write_bytes(html_out, report_html.render(report, lowest, image_root).encode("utf-8"))
        if not quiet:
            click.echo(f"HTML report written to {html_out}", err=True)
    if cons is not None:
        fmt = to_format or loaded[0].meta.get("source_format")
        wrep, images, regions = _write_consensus(cons, consensus_out, fmt, force, datasets)
        if not quiet:
            click.echo(f"consensus ({consensus_method}, {consensus_mode}): {images} images, {regions} regions "
                       f"written to {consensus_out} as {fmt}", err=True)
        # losses are never silent, even with --quiet
        for code, k in wrep.summary().items():
            click.echo(f"segmill agree: consensus output lost information: {code} x{k}: {describe(code)}", err=True)
    fails = report.check_thresholds(min_pq, min_iou, min_kappa)
    if fails:
        for f in fails:
            click.echo(f"segmill agree: {f}", err=True)
        sys.exit(EXIT_FINDINGS)
