"""``lemtrada-asp generate``: a synthetic corpus of valid cases near the decision boundaries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import KB_OPTION, atomic_output, fail_io, resource_options, run_guarded


@click.command()
@click.option("--n", "count", type=click.IntRange(min=0), required=True, help="How many cases to generate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: the same seed (and KB parameters) gives byte-identical output.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the cases to this JSON Lines file (atomically). Default: standard output.",
)
@KB_OPTION
@resource_options
def generate(count: int, seed: int, out: Path | None, kb_dir: Path | None) -> None:
    """Write N synthetic cases (case format v1) as JSON Lines.

    Mostly approvable cases with one to three perturbations at the edges the
    rules judge (ages, chart dates, intervals, step-therapy drugs, dose, codes,
    exclusions), placed around the parameters of the knowledge base (--kb), so
    a corpus for an edited KB probes its thresholds. Every case is valid.

    Exit status: 0 written; 3 the knowledge base does not load, or time or
    memory ran out; 4 the output file cannot be written. --out is written
    atomically (a temporary file beside it, then renamed).
    """
    from ..analysis.generate import generate_cases
    from ..engine.knowledge import KnowledgeBase

    def body() -> None:
        params = KnowledgeBase(kb_dir).catalogue.params
        if out is None:
            write = sys.stdout.write
            for case in generate_cases(count, seed, params=params):
                write(json.dumps(case, ensure_ascii=False) + "\n")
            return
        # Atomically: two runs writing the same file at once leave one whole corpus, never a mix.
        try:
            with atomic_output(out) as stream:
                for case in generate_cases(count, seed, params=params):
                    stream.write(json.dumps(case, ensure_ascii=False) + "\n")
        except OSError as exc:
            fail_io(exc, str(out), "write")

    run_guarded(body)

