"""``lemtrada-asp serve``: check everything that can fail, then listen (fhir-pas.md, "Commands").

In order: the reason-codes file is read (exit 2), the KB is loaded (exit 3),
the decision log is opened (exit 2), the store is opened and migrated (exit 2),
the port is bound (exit 2 when in use) --
only then is ``serving on http://HOST:PORT`` printed and requests taken. With
``--workers N`` uvicorn spawns N processes sharing the bound socket; each loads
its own engine once (settings travel in an environment variable, since spawned
processes share no memory). SIGTERM or SIGINT: uvicorn stops accepting, lets
in-flight requests finish, and the command exits 0.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

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


def build_app(options: dict, decider=None):
    """The app of one worker: its own Decider (loaded once), the options of ``serve``."""
    from .app import Settings, create_app
    from .decider import Decider
    from .questionnaire import questionnaire

    decider = decider or Decider(options.get("kb_dir"))
    form = questionnaire(decider.kb_root)
    settings = Settings(final_denials=options["final_denials"], reason_codes=options["reason_codes"],
                        decision_log=options.get("decision_log"), mask_member_ids=options["mask_member_ids"],
                        questionnaire=lambda: form, store=worker_store(options))
    return create_app(decider, settings)


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
    from .store import StoreError, migrate, resolve_url
    from .store import Store

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
    """uvicorn's factory in each spawned worker process."""
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
          workers: int, decision_log: str | None, mask_member_ids: bool, *, database: str | None = None,
          data_dir: str | None = None, store: bool = True) -> None:
    """Run the service until SIGTERM/SIGINT; ServeError for a reason not to start.

    The store (``database``: a URL; else SQLite in ``data_dir``, default the per-user data
    directory) is opened and migrated before listening; ``store=False`` serves without one.
    """
    import uvicorn

    from ..engine.errors import KnowledgeBaseError
    from .decider import Decider

    options = {"kb_dir": kb_dir, "final_denials": final_denials, "reason_codes": read_reason_codes(reason_codes),
               "decision_log": os.path.abspath(decision_log) if decision_log else None,
               "mask_member_ids": mask_member_ids}
    try:
        decider = Decider(kb_dir)
    except KnowledgeBaseError as exc:
        raise ServeError(f"knowledge base error: {exc}", 3) from None
    if decision_log:
        try:
            os.close(os.open(options["decision_log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        except OSError as exc:
            raise ServeError(f"--decision-log {decision_log}: cannot be opened for appending: {exc.strerror}", 2) from None
    options["database"] = open_store(database, data_dir, store)
    sock = bind(host, port)
    common = dict(log_level="warning", access_log=False, timeout_graceful_shutdown=30, lifespan="off")
    if workers == 1:
        config = uvicorn.Config(build_app(options, decider), **common)
    else:
        os.environ[SETTINGS_ENV] = json.dumps(options)
        config = uvicorn.Config("lemtrada_asp.service.server:worker_app", factory=True, workers=workers, **common)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving on http://{shown}:{port}", file=sys.stderr, flush=True)
    if workers == 1:
        _Server(config).run(sockets=[sock])
    else:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that a handled SIGTERM ends the command with 0, not by the signal."""

        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    return Server


def _Server(config):
    return _server_class()(config)
