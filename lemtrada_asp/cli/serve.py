"""``lemtrada-asp serve``: the decision service (fhir-pas.md, "Commands" and "Endpoints")."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..engine import guard
from ..service.limits import DECIDERS
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
# --- bounds and authentication (service/limits.py, service/auth.py, service/SECURITY.md) ---
@click.option("--timeout", type=click.FloatRange(min=0), default=guard.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds one decision may run; past it the decider process is killed and replaced, and the "
                   "request answered 503 naming the limit. 0: none.")
@click.option("--memory", "memory_mb", type=click.IntRange(min=0), default=guard.DEFAULT_MEMORY_MB, show_default=True,
              help="Memory bound in MB of each decider process (RLIMIT_AS); past it: 503 naming the limit. 0: none.")
@click.option("--deciders", type=click.IntRange(min=1), default=DECIDERS, show_default=True,
              help="Decider processes per worker: decisions run in them, so one slow decision leaves the others "
                   "answering.")
@click.option("--jwks", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Accept only requests with a bearer JWT signed by a key of this JWKS file (SMART Backend "
                   "Services style; lemtrada-asp token makes a test key pair and token).")
@click.option("--audience", default=None, metavar="URL",
              help="The aud a token must name. Default: http://HOST:PORT.")
@click.option("--insecure", is_flag=True,
              help="Allow a non-loopback --host without --jwks (anyone who reaches it can decide cases).")
@click.option("--docs", is_flag=True, help="Serve /docs, a static page of the API (no script, nothing from a CDN).")
@click.option("--versions", "versions_dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="A directory of policy versions (as decide --versions): each request is decided under the version "
                   "in force on its date. Without it, a request dated before the KB's effective date is refused.")
@click.option("--authorization-window-days", "authorization_window_days", type=click.IntRange(min=1), default=None,
              help="Days from the planned start that an approval may be used in (preAuthPeriod; plan setting, default 30).")
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Directory of the SQLite store, made on first start (default: $XDG_DATA_HOME/lemtrada-asp, "
                   "else ~/.local/share/lemtrada-asp).")
@click.option("--database", default=None, metavar="URL",
              help="Store requests, answers and authorisations in this database instead: postgresql://USER@HOST:PORT/NAME "
                   "(several servers may share it) or sqlite:///FILE.")
@click.option("--store/--no-store", "store", default=True, show_default=True,
              help="--no-store: answer without storing anything (no idempotency, updates, $inquire or Subscriptions).")
def serve(host: str, port: int, kb_dir: Path | None, final_denials: bool, reason_codes: str | None,
          workers: int, decision_log: str | None, log_requests: bool, mask_member_ids: bool, mask_key_file: str | None,
          timeout: float, memory_mb: int, deciders: int, jwks: str | None, audience: str | None, insecure: bool,
          docs: bool, versions_dir: str | None, authorization_window_days: int | None, data_dir: str | None,
          database: str | None, store: bool) -> None:
    """Serve Da Vinci PAS ($submit, $inquire, Subscriptions) and the JSON decision API over HTTP.

    Endpoints: POST /fhir/Claim/$submit, POST /fhir/Claim/$inquire,
    POST /fhir/Subscription, GET /fhir/metadata, GET /fhir/Questionnaire/lemtrada-pa,
    POST /v1/decide, GET /healthz (the OpenAPI schema at /openapi.json; a page at
    /docs with --docs). The KB is loaded and the store opened (SQLite in the data
    directory unless --database) before listening. Without --jwks the server is
    unauthenticated and binds loopback addresses only (unless --insecure). See
    lemtrada_asp/service/SECURITY.md and PAS.md.

    Exit status: 0 after SIGINT or SIGTERM (requests in flight get a bounded
    grace, see SECURITY.md); 2 a bad option (a decision log that cannot be
    opened 0600 or is a symbolic link, masking without a key), the store
    unusable, the port in use, or a non-loopback host without --jwks; 3 the
    knowledge base does not load.
    """
    from ..engine.knowledge import KbRef

    if versions_dir is not None and kb_dir is not None:
        raise click.UsageError("--versions DIR names every knowledge base itself: give no --kb with it")
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
        run(host, port, str(kb_dir) if kb_dir else None, final_denials, reason_codes, workers, decision_log, log,
            timeout=timeout, memory_mb=memory_mb, deciders=deciders, jwks=jwks, audience=audience, insecure=insecure,
            docs=docs, versions_dir=versions_dir, authorization_window_days=authorization_window_days,
            database=database, data_dir=data_dir, store=store)
    except ServeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_status)
    except KeyboardInterrupt:
        pass
