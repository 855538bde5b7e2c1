"""``lemtrada-asp serve``: check everything that can fail, then listen (fhir-pas.md, "Commands").

In order: the reason-codes file is read (exit 2), the KB is loaded (exit 3),
the decision log is opened (exit 2), the store is opened and migrated (exit 2),
the port is bound (exit 2 when in use) --
only then is ``serving on http://HOST:PORT`` printed and requests taken. With
``--workers N`` uvicorn spawns N processes sharing the bound socket; each loads
its own engine once (settings travel in an environment variable, since spawned
processes share no memory). Each server process decides through its own pool of
decider processes (limits.DeciderPool), every decision bounded by --timeout and
--memory. Without ``--jwks`` nobody is authenticated, so the server binds a
loopback address only (another needs ``--insecure``) and says so on start.
SIGTERM or SIGINT: uvicorn stops accepting, gives in-flight requests
SHUTDOWN_GRACE seconds, the deciders are killed, and the command exits 0 --
within SHUTDOWN_BOUND seconds of the signal whatever is running.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import threading
from pathlib import Path

from .limits import DECIDERS, HEADER_READ_TIMEOUT, BODY_READ_TIMEOUT, MAX_CONNECTIONS, SHUTDOWN_BOUND, SHUTDOWN_GRACE

__all__ = ["ServeError", "build_app", "is_loopback", "read_reason_codes", "serve", "worker_app"]

SETTINGS_ENV = "LEMTRADA_ASP_SERVE"


class ServeError(Exception):
    """A reason not to start: ``exit_status`` 2 (bad option, port in use) or 3 (KB)."""

    def __init__(self, message: str, exit_status: int):
        super().__init__(message)
        self.exit_status = exit_status


def read_reason_codes(path: str | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ServeError(f"--reason-codes {path}: cannot be read as JSON: {exc}", 2) from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()):
        raise ServeError(f"--reason-codes {path}: expected a JSON object mapping criterion ids or pend:REASON to code strings", 2)
    return data


def is_loopback(host: str) -> bool:
    """Whether host is a loopback address (127.0.0.0/8, ::1) or 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def authenticator(options: dict):
    """The Authenticator of --jwks and --audience, or None; ServeError (2) for a JWKS that does not read."""
    if not options.get("jwks"):
        return None
    from .auth import Authenticator

    try:
        return Authenticator(options["jwks"], options["audience"])
    except ValueError as exc:
        raise ServeError(str(exc), 2) from None


def build_app(options: dict, decider=None, pool=None):
    """The app of one worker: its own Decider (loaded once) and pool of deciders, the options of ``serve``."""
    from .app import Settings, create_app
    from .decider import Decider
    from .limits import DeciderPool

    decider = decider or Decider(options.get("kb_dir"), options.get("versions_dir"))
    if pool is None:
        pool = DeciderPool(options.get("kb_dir"), decider.kb_version, decider.tool_version,
                           size=options.get("deciders", DECIDERS), timeout=options.get("timeout"),
                           memory_mb=options.get("memory_mb"), versions_dir=options.get("versions_dir"))
    from .decision_log import load_mask_key

    key = load_mask_key(options.get("mask_key_file")) if options.get("mask_member_ids") else None
    settings = Settings(final_denials=options["final_denials"], reason_codes=options["reason_codes"],
                        decision_log=options.get("decision_log"), mask_key=key,
                        log_requests=options.get("log_requests", False),
                        authenticator=authenticator(options),
                        docs=options.get("docs", False), store=worker_store(options), kb=decider.policy.kb)
    if options.get("authorization_window_days"):
        settings.authorization_window_days = options["authorization_window_days"]
    app = create_app(pool, settings)
    app.state.pool = pool
    return app


def worker_store(options: dict):
    """This worker's connection to the store ``serve`` opened and migrated, or None without a store."""
    if not options.get("database"):
        return None
    from .store import Store

    return Store(options["database"])


def open_store(database: str | None, data_dir: str | None, store: bool) -> str | None:
    """The store's URL, its schema migrated (before any worker starts); None with ``--no-store``. Exit 2 when it fails."""
    if not store:
        return None
    from .store import Store, StoreError, migrate, resolve_url

    try:
        url = resolve_url(database, data_dir)
        opened = Store(url)
        try:
            migrate(opened.engine)
        finally:
            opened.close()
    except StoreError as exc:
        raise ServeError(str(exc), 2) from None
    return url


def worker_app():
    """uvicorn's factory in each spawned worker process (its deciders die with it: PR_SET_PDEATHSIG)."""
    reopen_on_sighup()
    return build_app(json.loads(os.environ[SETTINGS_ENV]))


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 2) from None
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, kb_dir: str | None, final_denials: bool, reason_codes: str | None,
          workers: int, decision_log: str | None, log: dict | None = None, *, timeout: float | None = None,
          memory_mb: int | None = None, deciders: int = DECIDERS, jwks: str | None = None,
          audience: str | None = None, insecure: bool = False, docs: bool = False, versions_dir: str | None = None,
          authorization_window_days: int | None = None, database: str | None = None,
          data_dir: str | None = None, store: bool = True) -> None:
    """Run the service until SIGTERM/SIGINT; ServeError for a reason not to start.

    The store (``database``: a URL; else SQLite in ``data_dir``, default the per-user data
    directory) is opened and migrated before listening; ``store=False`` serves without one.

    ``log``: ``log_requests``, ``mask_member_ids`` and ``mask_key_file`` of the decision log.
    """
    import uvicorn

    from ..engine.errors import KnowledgeBaseError
    from .decider import Decider
    from .limits import DeciderPool

    if not jwks and not is_loopback(host) and not insecure:
        raise ServeError(f"--host {host} is not a loopback address: serve it with --jwks FILE (authenticated "
                         "clients only), or add --insecure to let anyone who reaches it decide cases", 2)
    shown = f"[{host}]" if ":" in host else host
    options = {"kb_dir": kb_dir, "final_denials": final_denials, "reason_codes": read_reason_codes(reason_codes),
               "decision_log": os.path.abspath(decision_log) if decision_log else None,
               **(log or {}), "timeout": timeout or None, "memory_mb": memory_mb or None,
               "deciders": deciders, "jwks": os.path.abspath(jwks) if jwks else None,
               "audience": audience or f"http://{shown}:{port}", "docs": docs,
               "versions_dir": os.path.abspath(versions_dir) if versions_dir else None,
               "authorization_window_days": authorization_window_days}
    authenticator(options)  # a JWKS that does not read: exit 2 before the KB is loaded
    try:
        decider = Decider(kb_dir, options["versions_dir"])
    except KnowledgeBaseError as exc:
        raise ServeError(f"knowledge base error: {exc}", 3) from None
    if decision_log:
        _check_log(options)
    options["database"] = open_store(database, data_dir, store)
    sock = bind(host, port)
    reopen_on_sighup()
    common = dict(log_level="warning", access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE, lifespan="off",
                  http="lemtrada_asp.service.server:BoundedH11", limit_concurrency=MAX_CONNECTIONS)
    pool = None
    try:
        if workers == 1:
            try:
                pool = DeciderPool(kb_dir, decider.kb_version, decider.tool_version, size=deciders,
                                   timeout=options["timeout"], memory_mb=options["memory_mb"],
                                   versions_dir=options["versions_dir"])
            except RuntimeError as exc:
                raise ServeError(f"knowledge base error: {exc}", 3) from None
            config = uvicorn.Config(build_app(options, decider, pool), **common)
        else:
            os.environ[SETTINGS_ENV] = json.dumps(options)
            config = uvicorn.Config("lemtrada_asp.service.server:worker_app", factory=True, workers=workers, **common)
        if not jwks:
            print(f"warning: unauthenticated: anyone who can reach {shown}:{port} can decide cases and read the "
                  "Questionnaire (serve --jwks FILE to accept only clients with a signed token)", file=sys.stderr, flush=True)
        print(f"serving on http://{shown}:{port}", file=sys.stderr, flush=True)
        if workers == 1:
            _Server(config).run(sockets=[sock])
        else:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
    finally:
        if pool is not None:
            pool.close()


def _check_log(options: dict) -> None:
    """The decision log opens as it must (0600, no link) and masking has its key, before listening."""
    from .decision_log import DecisionLog, DecisionLogError, load_mask_key

    try:
        if options.get("mask_member_ids"):
            load_mask_key(options.get("mask_key_file"))
        log = DecisionLog(options["decision_log"])
    except DecisionLogError as exc:
        raise ServeError(str(exc), 2) from None
    if log.tightened is not None:
        print(f"note: decision log {log.path} was mode {log.tightened:04o}; made 0600 (it holds member health information)",
              file=sys.stderr, flush=True)
    log.close()


def reopen_on_sighup() -> None:
    """SIGHUP reopens the decision log (after logrotate), in this process and in each worker."""
    import signal

    from .decision_log import reopen_all

    signal.signal(signal.SIGHUP, lambda signum, frame: reopen_all())


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that a handled SIGTERM ends the command with 0, not by the signal,
        and within SHUTDOWN_BOUND seconds whatever is still running."""

        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()
            if not getattr(self, "_bounded", False):
                self._bounded = True
                threading.Thread(target=_exit_after, args=(SHUTDOWN_BOUND,), name="shutdown-bound", daemon=True).start()

    return Server


def _exit_after(seconds: float) -> None:
    """The last word on SIGTERM: past the grace, end the process (its deciders die with it), status 0."""
    import time

    time.sleep(seconds)
    from ..engine.guard import hard_exit

    hard_exit(f"stopped {seconds:g} s after the signal with requests still running", 0)


def _bounded_h11():
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Bounded(H11Protocol):
        """uvicorn's HTTP/1.1, with a deadline on each request's head and body (slowloris).

        A connection that has not sent a whole request head HEADER_READ_TIMEOUT seconds
        after it opened (or after its last answer) is closed; so is one still sending a
        body BODY_READ_TIMEOUT seconds (and a little: the app answers 408 first) after
        its head.
        """

        _timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm(HEADER_READ_TIMEOUT, h11.IDLE)

        def handle_events(self) -> None:
            before = self.conn.their_state
            super().handle_events()
            if before is h11.IDLE and self.conn.their_state is h11.SEND_BODY:
                self._arm(BODY_READ_TIMEOUT + 5, h11.SEND_BODY)

        def on_response_complete(self) -> None:
            self._arm(HEADER_READ_TIMEOUT, h11.IDLE)  # before a pipelined request's head is read in there
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            if self._timer is not None:
                self._timer.cancel()
            super().connection_lost(exc)

        def _arm(self, seconds: float, state) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_later(seconds, self._expire, state)

        def _expire(self, state) -> None:
            if self.conn.their_state is state and not self.transport.is_closing():
                self.transport.close()

    return Bounded


def __getattr__(name: str):
    if name == "BoundedH11":  # imported by uvicorn by name, built when first asked (uvicorn is the service extra)
        return _bounded_h11()
    raise AttributeError(name)


def _Server(config):
    return _server_class()(config)
