"""``lemtrada-asp questionnaire``: the DTR Questionnaire generated from the case model and the KB."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import KB_OPTION, run_guarded


@click.command()
@KB_OPTION
@click.option("--missing", "missing_case", type=click.Path(dir_okay=False), default=None,
              help="Only the questions whose answers would settle CASE's undocumented criteria.")
def questionnaire(kb_dir: Path | None, missing_case: str | None) -> None:
    """Print the FHIR Questionnaire (JSON) whose items are the case facts the KB reads.

    Each item asks its question in words, takes its answer codes from the case
    model, and names the criteria it settles. CASE may be a case file or a PAS
    request Bundle. Exit status: 0; 2 CASE is invalid; 3 the KB does not load.
    """

    def body() -> None:
        from ..engine.knowledge import KnowledgeBase
        from ..engine.policy import Policy
        from ..service.questionnaire import missing_link_ids, questionnaire as build

        root = KnowledgeBase(kb_dir).root
        only = None
        if missing_case is not None:
            decision = Policy.load(kb_dir).decide(missing_case).to_json()
            only = missing_link_ids(decision, root)
        click.echo(json.dumps(build(root, only=only), indent=2, ensure_ascii=False))

    run_guarded(body)
