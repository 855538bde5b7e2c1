"""``lemtrada-asp letter``: the notice about one case, as a draft for a clinical reviewer."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from .options import (
    KB_OPTION, PLAN_OPTION, IsoDate, fail_io, format_option, note_before_effective, resource_options, run_guarded,
    write_atomically,
)


@click.command()
@click.argument("case")
@format_option(
    ["markdown", "html", "text", "pdf"],
    "markdown for review and editing; html to print or send; text for plain mail systems; "
    "pdf: the html letter as a tagged, accessible PDF (PDF/UA-1; needs the [pdf] extra).",
)
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
@click.option("--reviewer-name", default=None, help="The clinical reviewer's name, printed in the sign-off. Default: a blank.")
@click.option("--reviewer-credentials", default=None, help="The reviewer's credentials (e.g. MD, board certified in neurology). Default: a blank.")
@click.option(
    "--authorization-number",
    default=None,
    help="The authorisation number the plan's system gave an approval. Default: a [missing: ...] placeholder.",
)
@PLAN_OPTION
@KB_OPTION
@resource_options
def letter(
    case: str,
    output_format: str,
    out: Path | None,
    letter_date: date | None,
    reviewer_name: str | None,
    reviewer_credentials: str | None,
    authorization_number: str | None,
    plan_file: Path | None,
    kb_dir: Path | None,
) -> None:
    """Draft the notice the plan sends about CASE.

    CASE is one case: a .json or .yaml/.yml file, a .jsonl file of one line, or
    - for standard input. A denial names each criterion not met and exclusion
    applied with its policy source, the member's facts behind it, what could
    lead to approval, the free copy of the criteria and the appeal rights; a
    pend lists the documents requested; an approval the authorised course.
    The member's part is in plain words; a separate part for the prescriber
    gives criterion ids, codes and case facts. Every letter is a DRAFT with a
    sign-off block: a clinical reviewer must sign it before it is sent.

    The rules of appeal (deadlines, fair hearing, external review) are those of
    the case's coverage.line_of_business, or the default when it has none; the
    plan's name, phone and addresses come from the plan settings (--plan FILE,
    or the file named by $LEMTRADA_PLAN). Anything no one gave (a member ID,
    an authorisation number) prints as [missing: ...].

    Exit status: 0 drafted; 1 no PDF can be made (WeasyPrint missing, or a
    character no shipped font draws); 2 invalid input (or a --date that does
    not exist, or --format pdf to a terminal); 3 knowledge base or notice data error, or time or
    memory ran out; 4 the case or the output file cannot be read or written
    (--out is written atomically: a temporary file beside it, then renamed).
    """
    from ..engine.policy import Policy
    from ..render.letters import Signer, render_letter, render_pdf

    if output_format == "pdf" and out is None and sys.stdout.isatty():  # refused before any work
        click.echo("error: a PDF is not printed to a terminal; use --out FILE.pdf or redirect the output", err=True)
        sys.exit(2)
    drafted: list[str | bytes] = []
    signer = Signer(reviewer_name, reviewer_credentials, authorization_number, str(plan_file) if plan_file else None)

    def body() -> None:
        policy = Policy.load(kb_dir)
        decision = policy.decide(case, corrections=True, details=True)
        note_before_effective(0 if policy.in_force(decision) else 1, policy)
        today = letter_date
        if output_format == "pdf":
            drafted.append(render_pdf(decision, today, signer))
        else:
            drafted.append(render_letter(decision, output_format, today, signer))

    run_guarded(body)
    result = drafted[0]
    if out is None:
        if isinstance(result, bytes):
            sys.stdout.buffer.write(result)
            sys.stdout.buffer.flush()
        else:
            run_guarded(lambda: click.echo(result, nl=False))
        return
    try:
        write_atomically(out, result)
    except OSError as exc:
        fail_io(exc, str(out), "write")
