"""``lemtrada-asp decide``: decide cases and print each decision in input order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..engine.errors import InputError
from .options import IO_ERROR, JOBS_OPTION, KB_OPTION, finish, format_option, resource_options, run_guarded


@click.command()
@click.argument("paths", nargs=-1, required=True)
@format_option(["text", "json"], "text: a summary per case; json: one JSON object per line (decision format v1).")
@click.option(
    "--corrections/--no-corrections",
    default=True,
    show_default=True,
    help="For each denied or pended case, list the fewest changes that would reach approval (computed by clingo).",
)
@KB_OPTION
@JOBS_OPTION
@resource_options
def decide(
    paths: tuple[str, ...], output_format: str, corrections: bool, kb_dir: Path | None, jobs: int | None
) -> None:
    """Decide the cases in PATHS.

    A PATH is a .json or .yaml/.yml case file, a .jsonl file of one case per
    line, a directory (every case file below it), or - for standard input.
    A JSON object with resourceType Bundle is read as a Da Vinci PAS request
    Bundle (fhir-pas.md; needs the service extra) and decided as its case.
    Invalid cases are reported on standard error (and, with --format json, as
    an error object in their place in the output); the rest are still decided.

    Exit status: 0 all decided; 2 some input invalid; 3 knowledge base error, or
    time or memory ran out; 4 a file could not be read or written; 130 / 143
    stopped by SIGINT / SIGTERM (the lines written so far are whole; their count
    is printed); 141 standard output was closed early, quietly.
    """
    from ..engine.batch import Interrupted, SignalStop
    from ..engine.policy import Policy
    from ..render.text import as_text
    from .progress import with_progress

    counts = {"written": 0, "invalid": 0, "unreadable": 0}
    stopped: list[Interrupted] = []

    def body() -> None:
        separator = ""
        with SignalStop(lambda: counts["written"]) as stop:
            results = Policy.load(kb_dir).decide_paths(paths, jobs=jobs, corrections=corrections)
            try:
                for result in with_progress(results):
                    with stop.writing():
                        if not result.ok:
                            counts["unreadable" if result.exit_status == IO_ERROR else "invalid"] += 1
                            click.echo(f"error: {result.error_text}", err=True)
                            if output_format == "json":
                                click.echo(json.dumps(result.error, ensure_ascii=False))
                        elif output_format == "json":
                            click.echo(json.dumps(result.decision, ensure_ascii=False))
                        else:
                            click.echo(separator + as_text(result.decision))
                            separator = "\n"
                        counts["written"] += 1
            except Interrupted as exc:
                stopped.append(exc)
            finally:
                results.close()  # stops the workers if the batch did not finish

    run_guarded(body)
    if stopped:
        click.echo(
            f"interrupted by {stopped[0].name}: {counts['written']:,} case{'s' if counts['written'] != 1 else ''} "
            "written (whole lines); the rest were not decided",
            err=True,
        )
        finish(stopped[0].exit_status)
    bad = counts["invalid"] + counts["unreadable"]
    if bad:
        others = counts["written"] - bad
        what = " and ".join(
            f"{n} {word} case{'s' if n != 1 else ''}" if word == "invalid" else f"{n} unreadable input{'s' if n != 1 else ''}"
            for word, n in (("invalid", counts["invalid"]), ("unreadable", counts["unreadable"])) if n
        )
        tail = "; the others were decided." if others else "; no case was decided."
        click.echo(what + tail, err=True)
        sys.exit(IO_ERROR if counts["unreadable"] else InputError.exit_status)
