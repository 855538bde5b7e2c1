"""``lemtrada-asp letter``: the notice about one case, as a draft for a clinical reviewer."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from .options import KB_OPTION, IsoDate, fail_io, format_option, resource_options, run_guarded, write_atomically


@click.command()
@click.argument("case")
@format_option(["markdown", "html", "text"], "markdown for review and editing; html to print or send; text for plain mail systems.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the letter to this file (UTF-8, atomically: a temporary file beside it, then renamed) instead of standard output.",
)
@click.option(
    "--date",
    "letter_date",
    type=IsoDate(),
    default=None,
    help="The date printed on the letter, YYYY-MM-DD. Default: today.",
)
@KB_OPTION
@resource_options
def letter(case: str, output_format: str, out: Path | None, letter_date: date | None, kb_dir: Path | None) -> None:
    """Draft the notice the plan sends about CASE.

    CASE is one case: a .json or .yaml/.yml file, a .jsonl file of one line, or
    - for standard input. A denial names each criterion not met and exclusion
    applied with its policy source, the member's facts behind it, what could
    lead to approval, the free copy of the criteria and the appeal rights; a
    pend lists the documents requested; an approval the authorised course.
    The member's part is in plain words; a separate part for the prescriber
    gives criterion ids, codes and case facts. Every letter is a DRAFT with a
    sign-off block: a clinical reviewer must sign it before it is sent.

    Exit status: 0 drafted; 2 invalid input (or a --date that does not exist);
    3 knowledge base error, or time or memory ran out; 4 the case or the output
    file cannot be read or written.
    """
    from ..engine.policy import Policy
    from ..render.letters import render_letter

    drafted: list[str] = []

    def body() -> None:
        decision = Policy.load(kb_dir).decide(case, corrections=True, details=True)
        drafted.append(render_letter(decision, output_format, today=letter_date))

    run_guarded(body)
    if out is None:
        run_guarded(lambda: click.echo(drafted[0], nl=False))
        return
    try:
        write_atomically(out, drafted[0])
    except OSError as exc:
        fail_io(exc, str(out), "write")
