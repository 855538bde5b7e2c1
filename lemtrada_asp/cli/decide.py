"""``lemtrada-asp decide``: decide cases and print each decision in input order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..engine.errors import InputError
from .options import JOBS_OPTION, KB_OPTION, executor_options, format_option, make_run, run_guarded


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
@executor_options
@click.option(
    "--cache/--no-cache", default=True, show_default=True,
    help="Answer what earlier cases of the run already made clingo derive from memory (the same output); --no-cache: clingo for every case.",
)
@click.option("--verbose", "-v", is_flag=True, help="Say on standard error whether the decision cache served the run, and why not.")
def decide(
    paths: tuple[str, ...], output_format: str, corrections: bool, kb_dir: Path | None, jobs: int | None,
    executor: str, scheduler: str | None, shard: str | None, cache: bool, verbose: bool,
) -> None:
    """Decide the cases in PATHS.

    A PATH is a .json or .yaml/.yml case file, a .jsonl file of one case per
    line, a directory (every case file below it), or - for standard input.
    Invalid cases are reported on standard error (and, with --format json, as
    an error object in their place in the output); the rest are still decided.

    With --shard I/N only every N-th chunk of 200 cases, from chunk I, is
    decided; concatenating the N outputs a chunk at a time in turn restores
    input order (lemtrada_asp.engine.executors.merge_shards).

    Exit status: 0 all decided, 2 some input invalid, 3 knowledge base error.
    """
    from ..engine.policy import Policy
    from .progress import with_progress

    if output_format == "text":  # --format json never loads the renderers
        from ..render.text import as_text

    invalid = 0
    run = make_run(executor, scheduler, shard)

    def body() -> None:
        nonlocal invalid
        separator = ""
        policy = Policy.load(kb_dir)
        results = policy.decide_paths(paths, jobs=jobs, corrections=corrections, run=run, cache=cache)
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
        if verbose:
            from ..engine.cache import cache_for

            for line in cache_for(policy.engine).describe():
                click.echo(line, err=True)

    run_guarded(body)
    if invalid:
        click.echo(f"{invalid} invalid case{'s' if invalid != 1 else ''}; the others were decided.", err=True)
        sys.exit(InputError.exit_status)
