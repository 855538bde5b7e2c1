"""``lemtrada-asp decide``: decide cases and print each decision in input order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..engine.errors import InputError
from .options import JOBS_OPTION, KB_OPTION, format_option, run_guarded


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

    Exit status: 0 all decided, 2 some input invalid, 3 knowledge base error.
    """
    from ..engine.policy import Policy
    from ..render.text import as_text
    from .progress import with_progress

    invalid = 0

    def body() -> None:
        nonlocal invalid
        separator = ""
        results = Policy.load(kb_dir).decide_paths(paths, jobs=jobs, corrections=corrections)
        for result in with_progress(results):
            if not result.ok:
                invalid += 1
                click.echo(f"error: {result.error_text}", err=True)
                if output_format == "json":
                    click.echo(json.dumps(result.error, ensure_ascii=False))
            elif output_format == "json":
                click.echo(json.dumps(result.decision, ensure_ascii=False))
            else:
                click.echo(separator + as_text(result.decision))
                separator = "\n"

    run_guarded(body)
    if invalid:
        click.echo(f"{invalid} invalid case{'s' if invalid != 1 else ''}; the others were decided.", err=True)
        sys.exit(InputError.exit_status)
