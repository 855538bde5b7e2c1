"""``lemtrada-asp serve``: the decision service (fhir-pas.md, "Commands" and "Endpoints")."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import KB_OPTION


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port to listen on.")
@KB_OPTION
@click.option("--final-denials", is_flag=True,
              help="Answer a deny as not certified (X12 306 A3). Default: pend it for a clinician (A4), "
                   "carrying the recommended reasons.")
@click.option("--reason-codes", "reason_codes", type=click.Path(dir_okay=False), default=None,
              help="JSON object mapping a criterion id (I4, E5, ...) or pend:REASON to an X12 HCR03 reason code.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes, each with its own loaded engine.")
@click.option("--decision-log", "decision_log", type=click.Path(dir_okay=False), default=None,
              help="Append one JSON line per decision to FILE, durable before the answer is sent.")
@click.option("--mask-member-ids", is_flag=True,
              help="In the decision log, replace member identifiers (Patient.identifier, Coverage ids) by a hash.")
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Directory of the SQLite store, made on first start (default: $XDG_DATA_HOME/lemtrada-asp, "
                   "else ~/.local/share/lemtrada-asp).")
@click.option("--database", default=None, metavar="URL",
              help="Store requests, answers and authorisations in this database instead: postgresql://USER@HOST:PORT/NAME "
                   "(several servers may share it) or sqlite:///FILE.")
@click.option("--store/--no-store", "store", default=True, show_default=True,
              help="--no-store: answer without storing anything (no idempotency, updates, $inquire or Subscriptions).")
def serve(host: str, port: int, kb_dir: Path | None, final_denials: bool, reason_codes: str | None,
          workers: int, decision_log: str | None, mask_member_ids: bool, data_dir: str | None, database: str | None,
          store: bool) -> None:
    """Serve Da Vinci PAS $submit and the JSON decision API over HTTP.

    Endpoints: POST /fhir/Claim/$submit, POST /fhir/Claim/$inquire,
    POST /fhir/Subscription, GET /fhir/metadata, GET /fhir/Questionnaire/lemtrada-pa,
    POST /v1/decide, GET /healthz (OpenAPI docs at /docs). The KB is loaded and the
    store opened (SQLite in the data directory unless --database) before listening.

    Exit status: 0 after SIGINT or SIGTERM; 2 a bad option, the store unusable or the port in use;
    3 the knowledge base does not load.
    """
    from ..engine.knowledge import KbRef

    if isinstance(kb_dir, KbRef):  # its workers are configured through JSON: a KB directory only
        raise click.UsageError("serve takes --kb DIR only, not --overlay: serve a KB (or an overlay whose overlay.toml names its base) with --kb")
    try:
        from ..service.server import ServeError, serve as run
    except ImportError as exc:
        click.echo(f"error: serve needs the service extra (pip install 'lemtrada-asp[service]'): {exc}", err=True)
        sys.exit(2)
    try:
        run(host, port, str(kb_dir) if kb_dir else None, final_denials, reason_codes, workers, decision_log, mask_member_ids,
            database=database, data_dir=data_dir, store=store)
    except ServeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_status)
    except KeyboardInterrupt:
        pass
