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
              help="Append one JSON line per decision to FILE (mode 0600, hash-chained, durable before the answer "
                   "is sent; SIGHUP or a rename reopens it). It holds member health information: see "
                   "lemtrada_asp/service/AUDIT.md.")
@click.option("--log-requests", is_flag=True,
              help="In the decision log, keep each request body as received too (default: the case, the decision, "
                   "ids, versions and client only).")
@click.option("--mask-member-ids", is_flag=True,
              help="In the decision log, replace every member identifier by a keyed HMAC-SHA-256 token and drop or "
                   "generalise names, birth dates and addresses. Needs --mask-key-file or $LEMTRADA_MASK_KEY.")
@click.option("--mask-key-file", "mask_key_file", type=click.Path(dir_okay=False), default=None,
              help="The secret key of --mask-member-ids (at least 16 bytes; never written to the log). "
                   "Default: the environment variable LEMTRADA_MASK_KEY.")
def serve(host: str, port: int, kb_dir: Path | None, final_denials: bool, reason_codes: str | None,
          workers: int, decision_log: str | None, log_requests: bool, mask_member_ids: bool,
          mask_key_file: str | None) -> None:
    """Serve Da Vinci PAS $submit and the JSON decision API over HTTP.

    Endpoints: POST /fhir/Claim/$submit, GET /fhir/metadata,
    GET /fhir/Questionnaire/lemtrada-pa, POST /v1/decide, GET /healthz
    (OpenAPI docs at /docs). The KB is loaded before listening.

    Exit status: 0 after SIGINT or SIGTERM; 2 a bad option (a decision log
    that cannot be opened 0600 or is a symbolic link, masking without a key)
    or the port in use;
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
        if mask_key_file and not mask_member_ids:
            raise click.UsageError("--mask-key-file goes with --mask-member-ids")
        if (mask_member_ids or log_requests) and not decision_log:
            raise click.UsageError("--mask-member-ids and --log-requests shape the decision log: give --decision-log FILE")
        log = {"log_requests": log_requests, "mask_member_ids": mask_member_ids, "mask_key_file": mask_key_file}
        run(host, port, str(kb_dir) if kb_dir else None, final_denials, reason_codes, workers, decision_log, log)
    except ServeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_status)
    except KeyboardInterrupt:
        pass
