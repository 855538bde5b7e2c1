"""``lemtrada-asp replay``: re-decide a decision log under a KB and report what changed, as diff does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .diff import _change_text, _summary_text
from .options import KB_OPTION, format_option, run_guarded
from ..engine.errors import InputError


@click.command()
@click.argument("log", type=click.Path(dir_okay=False))
@KB_OPTION
@click.option("--base", "base_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The KB the log was decided with, to explain changes. Default: the shipped KB "
                   "(used only for lines whose kb_version it has).")
@format_option(["text", "json"], "text: diff's table of transitions, then each changed decision; json: diff's summary object, then one object per change.")
def replay(log: str, kb_dir: Path | None, base_dir: Path | None, output_format: str) -> None:
    """Re-decide every case of a decision LOG (serve --decision-log) and report what changed.

    Each logged decision is compared with the case decided again under --kb
    (default: the shipped KB), by the comparison of ``diff``: decision, pend
    reason, failed and missing ids, authorised mg.

    Exit status: 0 nothing changed; 1 something changed; 2 a line could not be
    replayed; 3 a knowledge base does not load.
    """
    from ..analysis.changes import Summary
    from ..service.replay import replay as run

    state = {"changed": 0, "invalid": 0}

    def body() -> None:
        summary = Summary()
        changes = []
        for row in run(log, kb_dir, base_dir):
            if not row.result.ok:
                summary.invalid += 1
                click.echo(f"error: {row.result.error_text}", err=True)
                continue
            summary.compared += 1
            if row.change is not None:
                summary.changed += 1
                summary.transitions[row.change.transition] += 1
                changes.append({**row.change.as_json(), "logged_kb_version": row.logged_kb})
        kb_name = str(kb_dir) if kb_dir else "the shipped KB"
        if output_format == "json":
            click.echo(json.dumps({"summary": {"base": f"the log {log}", "kb": kb_name, **summary.as_json()}}))
            for change in changes:
                click.echo(json.dumps(change, ensure_ascii=False))
        else:
            click.echo(_summary_text(summary, f"the log {log}", kb_name))
            for change in changes:
                click.echo(_change_text(change))
        state.update(changed=summary.changed, invalid=summary.invalid)

    run_guarded(body)
    if state["invalid"]:
        sys.exit(InputError.exit_status)
    sys.exit(1 if state["changed"] else 0)
