"""``lemtrada-asp decide``: decide cases and print each decision in input order."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..engine.errors import InputError
from .options import (
    IO_ERROR, JOBS_OPTION, KB_OPTION, executor_options, finish, format_option, kb_header, make_run,
    note_before_effective, resource_options, run_guarded,
)


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
@click.option(
    "--versions",
    "versions_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="A directory of policy versions (each a KB or an overlay with an effective date): each case is decided "
         "under the version in force on its request date, and its decision names it (policy_version).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="With --versions: decide every case under the version in force on this date (YYYY-MM-DD) instead.",
)
@JOBS_OPTION
@executor_options
@click.option(
    "--cache/--no-cache", default=True, show_default=True,
    help="Answer what earlier cases of the run already made clingo derive from memory (the same output); --no-cache: clingo for every case.",
)
@click.option("--verbose", "-v", is_flag=True, help="Say on standard error whether the decision cache served the run, and why not.")
@resource_options
def decide(
    paths: tuple[str, ...], output_format: str, corrections: bool, kb_dir: Path | None, versions_dir: Path | None, as_of, jobs: int | None,
    executor: str, scheduler: str | None, shard: str | None, cache: bool, verbose: bool
) -> None:
    """Decide the cases in PATHS.

    A PATH is a .json or .yaml/.yml case file, a .jsonl file of one case per
    line, a directory (every case file below it), or - for standard input.
    A JSON object with resourceType Bundle is read as a Da Vinci PAS request
    Bundle (fhir-pas.md; needs the service extra) and decided as its case.
    Invalid cases are reported on standard error (and, with --format json, as
    an error object in their place in the output); the rest are still decided.

    With --versions DIR, each case is decided under the policy version in force
    on its request date (or on --as-of); a case dated before the first version
    is invalid input.

    With --shard I/N only every N-th chunk of 200 cases, from chunk I, is
    decided; concatenating the N outputs a chunk at a time in turn restores
    input order (lemtrada_asp.engine.executors.merge_shards).

    Exit status: 0 all decided; 2 some input invalid; 3 knowledge base error, or
    time or memory ran out; 4 a file could not be read or written; 130 / 143
    stopped by SIGINT / SIGTERM (the lines written so far are whole; their count
    is printed); 141 standard output was closed early, quietly.
    """
    if as_of is not None and versions_dir is None:
        raise click.UsageError("--as-of picks among policy versions: give --versions DIR with it")
    if versions_dir is not None and kb_dir is not None:
        raise click.UsageError("--versions DIR names every knowledge base itself: give no --kb or --overlay with it")
    from ..engine.batch import Interrupted, SignalStop
    from ..engine.policy import Policy
    from .progress import with_progress

    if output_format == "text":  # --format json never loads the renderers
        from ..render.text import as_text
    run = make_run(executor, scheduler, shard)
    from . import may_leave_quickly

    may_leave_quickly("decide")  # its output is standard output and error only

    counts = {"written": 0, "invalid": 0, "unreadable": 0, "early": 0, "finished": 0}
    loaded: list = []  # the one Policy of the run (not under --versions, which picks one per case)
    stopped: list[Interrupted] = []

    def every_line_written() -> bool:
        """A signal that came after the last line (the workers shutting down) stops nothing:
        the run is complete when every input has its line (counted only then; unknown for
        standard input or a shard)."""
        from .progress import input_size

        return versions_dir is None and shard is None and counts["written"] == input_size(paths)

    def body() -> None:
        separator = ""
        with SignalStop(lambda: counts["written"]) as stop:
            if versions_dir is not None:
                from ..engine.batch import Options
                from ..engine.versions import Versions

                results = Versions(versions_dir).decide_paths(
                    paths, as_of=as_of.date() if as_of else None, options=Options(corrections=corrections),
                )
            else:
                policy = Policy.load(kb_dir)
                loaded.append(policy)
                if output_format == "text":
                    click.echo(kb_header(policy.kb))
                # JSON out: a worker sends each decision back as its line, never as a pickled record.
                results = policy.decide_paths(
                    paths, jobs=jobs, corrections=corrections, run=run, cache=cache, lines=output_format == "json",
                )
            try:
                for result in with_progress(results, paths=None if shard else paths):
                    with stop.writing():
                        if not result.ok:
                            counts["unreadable" if result.exit_status == IO_ERROR else "invalid"] += 1
                            from ..render.text import error_text  # here: a clean run never imports it

                            click.echo(f"error: {error_text(result.error)}", err=True)
                            if output_format == "json":
                                click.echo(result.line)
                        elif output_format == "json":
                            counts["early"] += bool(loaded) and not loaded[0].in_force(result)
                            click.echo(result.line)
                        else:
                            counts["early"] += bool(loaded) and not loaded[0].in_force(result)
                            click.echo(separator + as_text(result.decision))
                            separator = "\n"
                        counts["written"] += 1
                counts["finished"] = 1
            except Interrupted as exc:
                if not counts["finished"] and not every_line_written():
                    stopped.append(exc)
            finally:
                try:
                    results.close()  # stops the workers if the batch did not finish
                except Interrupted as exc:  # a signal while the finished batch shut down: nothing was lost
                    if not counts["finished"] and not every_line_written():
                        stopped.append(exc)
            if verbose:
                from ..engine.cache import cache_for

                for line in cache_for(policy.engine).describe():
                    click.echo(line, err=True)

    run_guarded(body)
    if loaded:
        note_before_effective(counts["early"], loaded[0])
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
