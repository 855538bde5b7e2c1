"""``lemtrada-asp replay``: re-decide a decision log under a KB and report what changed, as diff does;
``replay --verify``: check the log's hash chain."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .diff import _change_text, _summary_text
from .options import KB_OPTION, format_option, resource_options, run_guarded
from ..engine.errors import InputError

CHANGED = 1  # something changed (replay), or the chain is broken (--verify)


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@KB_OPTION
@click.option("--base", "base_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The KB the log was decided with, to explain changes. Default: the shipped KB "
                   "(used only for lines whose kb_version it has).")
@click.option("--verify", is_flag=True,
              help="Decide nothing: check the hash chain of LOGS (rotated files oldest first) and report every "
                   "edited, deleted, inserted or torn line by file and line number.")
@format_option(["text", "json"], "text: diff's table of transitions, then each changed decision; json: diff's summary object, then one object per change.")
@resource_options
def replay(logs: tuple[str, ...], kb_dir: Path | None, base_dir: Path | None, verify: bool, output_format: str) -> None:
    """Re-decide every case of decision LOGS (serve --decision-log) and report what changed.

    Each logged decision is compared with the case decided again under --kb
    (default: the shipped KB), by the comparison of ``diff``: decision, pend
    reason, failed and missing ids, authorised mg. The log is streamed: any
    length replays in constant memory. A line that cannot be replayed (torn,
    not JSON, no decision) is reported by file and line number and the others
    are still replayed.

    With --verify nothing is decided: each line's hash chain is checked (see
    lemtrada_asp/service/AUDIT.md) and every edited, deleted, inserted or torn
    line is reported by file and line number.

    Exit status: 0 nothing changed (--verify: the chain is whole); 1 something
    changed (--verify: a line was edited, deleted, inserted or torn); 2 a line
    could not be replayed; 3 a knowledge base does not load, or time or memory
    ran out; 4 a log could not be read.
    """
    state = {"status": 0}
    body = (lambda: _verify(list(logs), output_format, state)) if verify else (
        lambda: _replay(list(logs), kb_dir, base_dir, output_format, state))
    run_guarded(body)
    sys.exit(state["status"])


def _verify(logs: list[str], output_format: str, state: dict) -> None:
    from ..render.text import printable
    from ..service.decision_log import chain_head, verify

    broken = 0
    for gap in verify(logs):
        broken += not gap.note
        if output_format == "json":
            click.echo(json.dumps({"file": gap.path, "line": gap.number, "problem": gap.what, "note": gap.note}, ensure_ascii=False))
        else:
            click.echo(f"{printable(gap.path)}:{gap.number}: {'note: ' if gap.note else ''}{printable(gap.what)}")
    seq, digest = chain_head(logs[-1])
    if output_format == "text":
        names = ", ".join(printable(log) for log in logs)
        click.echo(f"{names}: {broken} line{'s' if broken != 1 else ''} edited, deleted, inserted or torn" if broken
                   else f"{names}: the hash chain is whole")
        click.echo(f"chain head: seq {seq}, {digest} (record it elsewhere: a tail cut or rewritten later will not match)")
    else:
        click.echo(json.dumps({"broken": broken, "head": {"seq": seq, "hash": digest}}))
    state["status"] = CHANGED if broken else 0


def _replay(logs: list[str], kb_dir, base_dir, output_format: str, state: dict) -> None:
    from ..analysis.changes import Summary
    from ..render.text import error_text, printable
    from ..service.replay import replay as run

    summary = Summary()
    changes = []
    for log in logs:
        for row in run(log, kb_dir, base_dir):
            if not row.result.ok:
                summary.invalid += 1
                click.echo(f"error: {error_text(row.result.error)}", err=True)
                continue
            summary.compared += 1
            if row.change is not None:
                summary.changed += 1
                summary.transitions[row.change.transition] += 1
                changes.append({**row.change.as_json(), "logged_kb_version": row.logged_kb, "why_known": row.why_known})
    kb_name = str(kb_dir) if kb_dir else "the shipped KB"
    base_name = "the log " + ", ".join(logs)
    if output_format == "json":
        click.echo(json.dumps({"summary": {"base": base_name, "kb": kb_name, **summary.as_json()}}, ensure_ascii=False))
        for change in changes:
            click.echo(json.dumps(change, ensure_ascii=False))
    else:
        click.echo(_summary_text(summary, printable(base_name), printable(kb_name)))
        for change in changes:
            text = _change_text(change)
            if not change["why_known"]:
                head, _, _ = text.rpartition("\n    because: ")
                text = (f"{head}\n    because: not known here: the line was decided under {change['logged_kb_version']}, "
                        f"which is not the base KB's version (give --base the KB it was decided with)")
            click.echo(text)
    state["status"] = InputError.exit_status if summary.invalid else (CHANGED if summary.changed else 0)
