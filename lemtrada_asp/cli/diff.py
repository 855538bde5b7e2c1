"""``lemtrada-asp diff``: what an edit of the knowledge base changes, on a corpus or on every possible case."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..engine import guard
from ..engine.errors import InputError
from ..render.text import error_text, printable
from .options import IO_ERROR, JOBS_OPTION, KB_OPTION, executor_options, format_option, make_run, resource_options, run_guarded


@click.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--base",
    "base_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The knowledge base before the edit. Default: the KB shipped with the package.",
)
@click.option(
    "--base-overlay",
    "base_overlays",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    multiple=True,
    help="An overlay on the base side (repeatable). Without --base and --base-overlay, an --overlay is compared with the --kb it changes.",
)
@KB_OPTION
@format_option(["text", "json", "html"], "text: a table of transitions, then each changed case (or class); json: a summary object, then one object per changed case (or class), one per line; "
               "html (on a corpus): one self-contained page, charts of the transitions and changed criteria, each changed case's trees.")
@click.option("--exhaustive", is_flag=True, help="No corpus: compare the KBs on every possible case (abstract input space) and describe the classes of case that change.")
@click.option(
    "--witnesses",
    "witness_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --exhaustive: write each class's witness case to DIR/IMPACT-NNN.yaml.",
)
@click.option("--classify", is_flag=True, help="With --exhaustive: place each case of PATHS in its class (json: {\"case_id\", \"class\"}); a changed case in no class is reported.")
@JOBS_OPTION
@executor_options
@resource_options
def diff(paths: tuple[str, ...], base_dir: Path | None, base_overlays: tuple[Path, ...], kb_dir: Path | None, output_format: str,
         exhaustive: bool, witness_dir: Path | None, classify: bool, jobs: int | None,
         executor: str, scheduler: str | None, shard: str | None) -> None:
    """Decide PATHS under two knowledge bases and report every case that changed.

    A case changed when its decision, pend reason, failed or missing ids or
    authorised mg differ. The report gives the count of each transition
    (approve -> deny: 312), then each changed case with what changed and why:
    the criteria whose status differs.

    With --exhaustive, no PATHS: every possible case is compared (the inputs cut
    at the boundary values of both KBs' parameters), and the cases that change
    are described as a few classes, each with a witness case that decide
    confirms under both KBs.

    Exit status: 0 nothing changed; 1 something changed; 2 some input was
    invalid (the others were still compared); 3 a knowledge base does not load,
    or time or memory ran out; 4 an input could not be read (I/O).
    """
    if classify and not exhaustive:
        raise click.UsageError("--classify goes with --exhaustive")
    if classify and not paths:
        raise click.UsageError("--classify places the cases of PATHS in the classes; give PATHS")
    if exhaustive and paths and not classify:
        raise click.UsageError("--exhaustive compares every possible case; give no PATHS with it (or --classify PATHS)")
    if not exhaustive and not paths:
        raise click.UsageError("give the cases to compare (files or directories), or --exhaustive")
    if exhaustive and output_format == "html":
        raise click.UsageError("--format html reports a corpus; with --exhaustive use text or json")
    if witness_dir and not exhaustive:
        raise click.UsageError("--witnesses goes with --exhaustive")
    base_dir = _base_side(base_dir, base_overlays, kb_dir)
    state = {"changed": 0, "invalid": 0}

    def body() -> None:
        if exhaustive:
            with guard.running("the exhaustive analysis (diff --exhaustive)"):
                state["changed"] = _exhaustive(base_dir, kb_dir, output_format, witness_dir, list(paths) if classify else None, jobs)
        else:
            state.update(_corpus(paths, base_dir, kb_dir, output_format, jobs, make_run(executor, scheduler, shard)))

    run_guarded(body)
    if state.get("unreadable"):
        sys.exit(IO_ERROR)
    if state["invalid"]:
        sys.exit(InputError.exit_status)
    sys.exit(1 if state["changed"] else 0)


def _base_side(base_dir, base_overlays, kb_dir):
    """The base of the comparison: --base with its overlays; without either, the KB an --overlay changes."""
    from ..engine.knowledge import KbRef

    if base_overlays:
        return KbRef(base_dir, base_overlays)
    if base_dir is None and isinstance(kb_dir, KbRef):
        return kb_dir.directory
    return base_dir


def _names(base_dir: Path | None, kb_dir: Path | None) -> tuple[str, str]:
    return tuple(str(d) if d is not None else "the shipped KB" for d in (base_dir, kb_dir))


# --- on a corpus ------------------------------------------------------------------


def _corpus(paths, base_dir, kb_dir, output_format: str, jobs: int | None, run=None) -> dict:
    from ..analysis.changes import Summary, compare_paths
    from ..engine.batch import default_jobs
    from .progress import with_progress

    summary = Summary()
    unreadable = 0
    explain = None
    if output_format == "html":
        from .diff_html import HtmlReport

        explain = HtmlReport(base_dir, kb_dir)
    workers = max(1, (jobs or default_jobs()) // 2)  # two streams share the cores
    # Changed cases wait in a temporary file so the summary can come first
    # while memory stays flat, however many cases change.
    import tempfile  # here, not at the top: every command's start-up would pay for it

    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for result, change in with_progress(compare_paths(paths, base_dir, kb_dir, jobs=workers, run=run), paths=None if run is not None and run.shard else paths):
            if not result.ok:
                summary.invalid += 1
                unreadable += result.exit_status == IO_ERROR
                click.echo(f"error: {error_text(result.error)}", err=True)
                continue
            summary.compared += 1
            if change is not None:
                summary.changed += 1
                summary.transitions[change.transition] += 1
                if explain is not None:
                    explain.keep(spool, change.as_json(), result)
                    continue
                spool.write(json.dumps(change.as_json(), ensure_ascii=False) + "\n")
        if explain is not None:
            explain.flush(spool)
        spool.seek(0)
        base_name, kb_name = _names(base_dir, kb_dir)
        if output_format == "json":
            click.echo(json.dumps({"summary": {"base": base_name, "kb": kb_name, **summary.as_json()}}))
            for line in spool:
                click.echo(line.rstrip("\n"))
        elif explain is not None:
            explain.report({"base": base_name, "kb": kb_name, **summary.as_json()}, spool)
        else:
            click.echo(_summary_text(summary, base_name, kb_name))
            for line in spool:
                click.echo(_change_text(json.loads(line)))
    if summary.invalid:
        others = "; the others were compared." if summary.compared else "; no case was compared."
        click.echo(f"{summary.invalid} invalid case{'s' if summary.invalid != 1 else ''}{others}", err=True)
    return {"changed": summary.changed, "invalid": summary.invalid, "unreadable": unreadable}


def _summary_text(summary, base_name: str, kb_name: str) -> str:
    lines = [
        f"base {base_name}  ->  kb {kb_name}",
        f"{summary.compared} cases compared: {summary.changed} changed, {summary.compared - summary.changed} unchanged.",
    ]
    if summary.transitions:
        width = max(len(f"{a} -> {b}") for a, b in summary.transitions)
        lines += ["", f"  {'transition':<{width}}  cases"]
        for (a, b), count in summary.transitions.most_common():
            note = "   (failed or missing ids or mg changed)" if a == b else ""
            lines.append(f"  {a + ' -> ' + b:<{width}}  {count:>5}{note}")
        lines += ["", "Changed cases:"]
    return "\n".join(lines)


def _change_text(change: dict) -> str:
    from ..render.text import outcome_label

    head = f"{printable(change['case_id'])} ({printable(change['source'])}): {outcome_label(change['base'])} -> {outcome_label(change['kb'])}"
    lines = [head]
    for key in change["changed"]:
        if key in ("decision", "pend_reason"):
            continue
        before, after = change["base"][key], change["kb"][key]
        if isinstance(before, list):
            before, after = ", ".join(before) or "none", ", ".join(after) or "none"
        lines.append(f"    {key}: {before if before is not None else 'none'} -> {after if after is not None else 'none'}")
    why = "; ".join(f"{ident} {s['base']} -> {s['kb']}" for ident, s in change["statuses"].items())
    lines.append(f"    because: {why or 'no criterion status differs (the decision rules changed)'}")
    return "\n".join(lines)


# --- on every possible case ------------------------------------------------------------


def _exhaustive(base_dir, kb_dir, output_format: str, witness_dir: Path | None, classify: list[str] | None = None, jobs: int | None = None) -> int:
    from ..analysis.impact import exhaustive_impact

    impact = exhaustive_impact(base_dir, kb_dir)
    placed = impact.analysis.classify(classify, jobs=max(1, (jobs or 1))) if classify else None
    base_name, kb_name = _names(base_dir, kb_dir)
    written: list[str | None] = []
    import yaml  # only for witness files

    for cls in impact.classes:
        if witness_dir is None:
            written.append(None)
            continue
        witness_dir.mkdir(parents=True, exist_ok=True)
        path = witness_dir / f"{cls.witness['id']}.yaml"
        path.write_text(yaml.safe_dump(cls.witness, sort_keys=False, default_flow_style=None), encoding="utf-8")
        written.append(str(path))
    summary = {
        "base": base_name,
        "kb": kb_name,
        "inputs": impact.dimensions,
        "abstract_cases": impact.abstract_cases,
        "changed_criteria": impact.changed_criteria,
        "classes": len(impact.classes),
        "complete": impact.complete,
        "incomplete": impact.incomplete,
        "seconds": round(impact.seconds, 1),
    }
    if placed is not None:
        summary["classified"] = {
            "cases": len(placed),
            "changed": sum(p["changed"] for p in placed),
            "changed_in_no_class": sum(p["changed"] and p["class"] is None and not p["outside"] for p in placed),
            "changed_outside_the_space": sum(p["changed"] and p["outside"] for p in placed),
            "transitions_reached": sorted({f"{a} -> {b}" for c in impact.classes if any(p["class"] == c.ident for p in placed) for a, b in c.transitions}),
            "classes_reached": sorted({p["class"] for p in placed if p["class"]}, key=lambda i: int(i[1:])),
        }
    if output_format == "json":
        click.echo(json.dumps({"summary": summary}))
        for n, (cls, path) in enumerate(zip(impact.classes, written), start=1):
            click.echo(json.dumps({
                "id": cls.ident,
                "class": n,
                "description": cls.describe(),
                "conditions": [{k: c[k] for k in ("feature", "kind", "values")} for c in cls.conditions],
                "transitions": [{"from": a, "to": b} for a, b in cls.transitions],
                "witness": cls.witness,
                "witness_file": path,
                "witness_outcome": {"base": cls.base, "kb": cls.kb},
                "confirmed": cls.confirmed,
            }, ensure_ascii=False))
        for p in placed or []:
            click.echo(json.dumps({"case_id": p["case_id"], "class": p["class"], "changed": p["changed"], "outside": p["outside"],
                                   "source": p["source"]}, ensure_ascii=False))
    else:
        click.echo(_exhaustive_text(impact, summary, written))
        if placed is not None:
            click.echo(_classified_text(impact, summary, placed))
    if not impact.complete:
        click.echo("warning: the search is INCOMPLETE: " + "; ".join(impact.incomplete), err=True)
    unconfirmed = [n for n, cls in enumerate(impact.classes, start=1) if not cls.confirmed]
    if unconfirmed:
        click.echo(f"warning: decide did not confirm the witness of class {', '.join(map(str, unconfirmed))}", err=True)
    return len(impact.classes)


def _classified_text(impact, summary: dict, placed: list[dict]) -> str:
    info = summary["classified"]
    lines = ["", f"Classified {info['cases']} given cases: {info['changed']} changed, "
                 f"{info['changed_in_no_class']} of them in no class, {info['changed_outside_the_space']} of a shape the space "
                 "does not enumerate (more list entries than it holds)."]
    counts: dict[str, int] = {}
    for p in placed:
        if p["class"]:
            counts[p["class"]] = counts.get(p["class"], 0) + 1
    for cls in impact.classes:
        lines.append(f"  {cls.ident}: {counts.get(cls.ident, 0)} case(s)")
    for p in placed:
        if p["changed"] and p["class"] is None:
            why = "outside the space" if p["outside"] else "NOT IN ANY CLASS"
            lines.append(f"  {why}: {printable(p['case_id'])} ({printable(p['source'])})")
    return "\n".join(lines)


def _exhaustive_text(impact, summary: dict, written: list[str | None]) -> str:
    from ..render.text import outcome_label

    lines = [
        f"base {summary['base']}  ->  kb {summary['kb']}",
        f"Every possible case: {summary['inputs']} inputs, {summary['abstract_cases']:.3g} abstract cases "
        f"(each input cut at the boundary values of both KBs), compared in {summary['seconds']} s.",
        ("The search is complete: every possible case was compared." if impact.complete else
         "The search is INCOMPLETE: " + "; ".join(impact.incomplete)),
        "Criteria whose status rule changed: " + (", ".join(impact.changed_criteria) or "none"),
    ]
    if not impact.classes:
        lines.append("No case decides differently.")
        return "\n".join(lines)
    count = len(impact.classes)
    lines.append(f"{count} class{'es' if count != 1 else ''} of case decide{'' if count != 1 else 's'} differently:")
    for n, (cls, path) in enumerate(zip(impact.classes, written), start=1):
        lines.append("")
        lines.append(f"{cls.ident}. " + "\n   AND ".join(c["text"] for c in cls.conditions))
        lines.append("   transitions: " + ", ".join(f"{a} -> {b}" for a, b in cls.transitions))
        verdict = "confirmed by decide" if cls.confirmed else "NOT confirmed by decide"
        lines.append(f"   witness {cls.witness['id']}: {outcome_label(cls.base)} -> {outcome_label(cls.kb)} ({verdict})")
        if path:
            lines.append(f"     written to {path}")
        else:
            lines.append("     " + json.dumps(cls.witness, ensure_ascii=False))
    return "\n".join(lines)
