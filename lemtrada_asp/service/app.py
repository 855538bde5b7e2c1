"""The HTTP service: FastAPI routes of fhir-pas.md ("Endpoints") over one loaded engine.

The app is built around a ``Decider`` -- in ``serve``, a pool of decider
processes (limits.py) that bounds every decision by ``--timeout`` and
``--memory`` -- so requests never load the KB. Every error is an answer: under
``/fhir/`` an OperationOutcome, under ``/v1/`` a JSON object, never a traceback.
A network input is a JSON object and nothing else: no body can name a file.
Work is done in Starlette's thread pool, so a decision being solved never blocks
the event loop that accepts the next request. With an Authenticator (auth.py),
every route but /healthz, /fhir/metadata and /openapi.json needs a bearer token
granting its scope, checked before the body is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .decision_log import DecisionLog
from ..case.pas.fhir_in import MAX_BUNDLE_BYTES, BundleError, parse_body, read_bundle, unwrap_parameters
from .fhir_out import AUTHORIZATION_WINDOW_DAYS, capability_statement, error_response, operation_outcome, response_bundle
from ..case.pas.problems import BusinessError, FhirProblem
from .auth import AuthError
from .dtr.routes import router as dtr_router
from .limits import BODY_READ_TIMEOUT, BodyGate, Busy, DecisionFailed, LimitExceeded

__all__ = ["CaseInvalid", "Decider", "Settings", "create_app", "decide_request", "json_type", "not_a_case"]

FHIR_JSON = "application/fhir+json"
MEDIA_TYPES = {"application/fhir+json", "application/json"}


class CaseInvalid(Exception):
    """A case that breaks the case format: ``problems`` of (field, message), ``case_id`` when valid."""

    def __init__(self, problems: list[tuple[str, str]], case_id: str | None):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems, self.case_id = problems, case_id


def decide_request(decide: Callable[[dict], dict], request: Any) -> dict:
    """The decision of a read PAS request's case, each case-format problem placed at the element it came from:
    BundleError (400), or BusinessError (200, a ClaimResponse error) for one PAS answers as such (a CaseInvalid
    with an X12 code: a request dated before the policy is in force)."""
    try:
        return decide(request.case)
    except CaseInvalid as exc:
        x12 = getattr(exc, "x12", None)
        raise (BusinessError if x12 else BundleError)(
            [FhirProblem(request.origin(f), x12 or "invalid", f"{f}: {m}" if f else m) for f, m in exc.problems],
            exc.case_id) from None


class Decider(Protocol):
    """One loaded policy: decides valid cases, says which KB and tool version it is."""

    kb_version: str
    tool_version: str

    def decide(self, case: dict, corrections: bool = False) -> dict:
        """The decision object (decision format, without ``source``); raises CaseInvalid."""


@dataclass
class Settings:
    final_denials: bool = False
    reason_codes: dict[str, str] = field(default_factory=dict)
    decision_log: str | None = None
    mask_key: bytes | None = None  # --mask-member-ids: the HMAC key of the decision log's member tokens
    log_requests: bool = False  # --log-requests: the decision log keeps request bodies
    questionnaire: Callable[[], dict] | None = None
    authenticator: Any = None  # auth.Authenticator; None: no authentication (loopback only, server.py)
    docs: bool = False  # serve /docs: the API's own page, rendered here from the OpenAPI schema
    authorization_window_days: int = AUTHORIZATION_WINDOW_DAYS  # preAuthPeriod length from the planned start
    store: Any = None  # a service.store.Store: $submit goes through the stored lifecycle (service/pas/)
    kb: Any = None  # the loaded KnowledgeBase: its quoted sentences for the review desk's trees


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for a message: 'a string', 'an array', 'null'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def not_a_case(value: Any) -> str:
    """What is said of a network input that is not a JSON object (a path, '-', [1], 12, null)."""
    return f"expected a JSON object (one case), got {json_type(value)}"


def fhir(status: int, content: dict) -> JSONResponse:
    return JSONResponse(content, status_code=status, media_type=FHIR_JSON)


def fhir_error(status: int, code: str, message: str, expression: str | None = None) -> JSONResponse:
    return fhir(status, operation_outcome([FhirProblem(expression, code, message)]))


class TooLarge(Exception):
    pass


class WrongMediaType(Exception):
    pass


class SlowBody(Exception):
    """The body did not arrive within BODY_READ_TIMEOUT seconds: 408."""


async def _body(request: Request) -> bytes:
    """The request body, refused past the size limit without reading it all, and only as JSON;
    the whole of it within BODY_READ_TIMEOUT seconds."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise WrongMediaType(f"expected Content-Type application/fhir+json or application/json, got {media or 'none'!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BUNDLE_BYTES:
        raise TooLarge()
    chunks, size = [], 0

    async def read() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BUNDLE_BYTES:
                raise TooLarge()
            chunks.append(chunk)

    try:
        await asyncio.wait_for(read(), BODY_READ_TIMEOUT)
    except (asyncio.TimeoutError, TimeoutError):
        raise SlowBody(f"the body was not received within {BODY_READ_TIMEOUT:g} s") from None
    return b"".join(chunks)


def create_app(decider: Decider, settings: Settings) -> FastAPI:
    app = FastAPI(title="lemtrada-asp", version=decider.tool_version,
                  description="Prior authorization for Lemtrada: Da Vinci PAS $submit and a JSON decision API.",
                  docs_url=None, redoc_url=None)  # nothing loaded from a CDN: /docs is ours (below), with --docs
    app.router.redirect_slashes = False  # /fhir/metadata/ is no path: 404, not a 307 to another
    log = (DecisionLog(settings.decision_log, mask_key=settings.mask_key, log_requests=settings.log_requests)
           if settings.decision_log else None)
    # An in-process Decider decides one case at a time; a DeciderPool (limits.py) takes its own.
    lock = contextlib.nullcontext() if hasattr(decider, "health") else threading.Lock()
    gate = BodyGate()
    auth = settings.authenticator

    def authorize(request: Request, resource: str, action: str) -> str | None:
        """The client id of the request's token (None without authentication); AuthError otherwise."""
        if auth is None:
            return None
        return auth.client(request.headers.get("authorization"), resource, action)

    async def read_and(request: Request, parse: Callable[[bytes], Any]) -> Any:
        """parse(body) in a thread, a large body behind the gate (limits.BodyGate) while read and parsed."""
        large = gate.is_large(request.headers.get("content-length"))
        if large:
            await gate.acquire()
        try:
            body = await _body(request)
            return await _in_thread(parse, body)
        finally:
            if large:
                gate.release()

    def decide(case: dict, corrections: bool = False) -> dict:
        with lock:
            return decider.decide(case, corrections=corrections)

    made: dict[str, dict] = {}

    def questionnaire() -> dict:
        """The Questionnaire, made by a decider on first request and kept: its enableWhen is an
        analysis of the KB (workflow/enable.py), which an edited KB can make run past --timeout.
        Then the form goes without enableWhen (every question shown: more asked, none hidden)."""
        if "form" not in made:
            try:
                with lock:
                    form = decider.questionnaire()
            except LimitExceeded as exc:
                from .questionnaire import questionnaire as static_form

                print(f"lemtrada-asp serve: the Questionnaire's enableWhen was not derived from the KB within "
                      f"{exc.limit}; the Questionnaire is served without it", file=sys.stderr, flush=True)
                form = static_form(settings.kb.root if settings.kb is not None else None, enable=False)
            made.setdefault("form", form)
        return made["form"]

    if settings.questionnaire is None:
        settings.questionnaire = questionnaire

    def next_question(case: dict, asked: list[str]) -> str | None:
        with lock:
            return decider.next_question(case, asked)

    def logged(endpoint: str, received: Any, case: dict, decision: dict, decision_id: str | None = None,
               client: str | None = None, move: dict | None = None) -> None:
        if log is not None:
            log.record(endpoint=endpoint, received=received, case=case, decision=decision,
                       kb_version=decider.kb_version, tool_version=decider.tool_version, decision_id=decision_id,
                       client=client, move=move)

    if settings.store is not None:  # mounted first: its $submit is the one that answers
        from .pas.lifecycle import Lifecycle
        from .pas.routes import router

        from .desk import mount as mount_desk

        lifecycle = Lifecycle(settings.store, decide, final_denials=settings.final_denials,
                              reason_codes=settings.reason_codes, logged=logged,
                              authorization_window_days=settings.authorization_window_days)
        app.include_router(router(lifecycle, read_and, authorize, fhir))

        def explain(case: dict):
            with lock:
                return decider.explain(case)

        mount_desk(app, lifecycle, explain, settings.kb)  # the review desk at /desk/: reviewers' own sign-in
        from .crd import mount as mount_crd  # CRD's CDS Hooks service at /cds-services (service/CRD.md)
        mount_crd(app, explain, read_and, authorize, settings.store, settings.kb, decider.kb_version, logged)

    def read_submit(body: bytes) -> Any:
        """The PasRequest of a body (and what was received), or the 400 answer."""
        try:
            received = parse_body(body)
            return received, read_bundle(unwrap_parameters(received))
        except BusinessError as exc:  # readable but not decidable: PAS answers it in a ClaimResponse (version 2)
            return fhir(200, error_response(unwrap_parameters(received), exc.problems))
        except BundleError as exc:
            return fhir(400, operation_outcome(exc.problems))

    def submit(read: Any, client: str | None) -> JSONResponse:
        import uuid

        received, request = read
        try:
            decision = decide_request(decide, request)
        except BusinessError as exc:  # readable but not decidable: PAS answers it in a ClaimResponse (version 2)
            return fhir(200, error_response(unwrap_parameters(received), exc.problems))
        except BundleError as exc:
            return fhir(400, operation_outcome(exc.problems))
        decision_id = str(uuid.uuid4())
        answer = response_bundle(decision, request.bundle, request.case, final_denials=settings.final_denials,
                                 reason_codes=settings.reason_codes, decision_id=decision_id, lines=request.lines,
                                 authorization_window_days=settings.authorization_window_days)
        logged("fhir/Claim/$submit", received, request.case, decision, decision_id, client)
        return fhir(200, answer)

    def invalid(message: str, field: str = "", case_id: str | None = None) -> JSONResponse:
        return JSONResponse({"case_id": case_id, "error": "invalid_input",
                             "problems": [{"field": field, "message": message}]}, 400)

    def read_case(body: bytes) -> Any:
        """The parsed case of a body -- a JSON object, nothing else -- or the 400 answer."""
        from ..engine.loading import MAX_CASE_BYTES, load_json

        if len(body) > MAX_CASE_BYTES:  # as decide: a case is at most 1,000,000 bytes
            return invalid(f"case is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
        try:
            data = load_json(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return invalid(f"not UTF-8 text (byte {exc.start + 1})")
        except (ValueError, RecursionError) as exc:  # as decide reads a .json case file
            return invalid(str(exc) or "too deeply nested to read", getattr(exc, "field", ""))
        if not isinstance(data, dict):  # never a path, never '-': a network input is a case, not a name of one
            return invalid(not_a_case(data))
        return data

    def decide_json(data: dict, client: str | None) -> JSONResponse:
        try:
            decision = decide(data, corrections=True)  # what `decide --format json` prints, corrections included
        except CaseInvalid as exc:
            return JSONResponse({"case_id": exc.case_id, "error": "invalid_input",
                                 "problems": [{"field": f, "message": m} for f, m in exc.problems]}, 400)
        logged("v1/decide", data, data, decision, client=client)
        return JSONResponse(decision)

    @app.post("/fhir/Claim/$submit", summary="Da Vinci PAS $submit: a request Bundle in, a response Bundle out",
              openapi_extra={"requestBody": {"required": True, "content": {FHIR_JSON: {}}}})
    async def claim_submit(request: Request):
        client = authorize(request, "Claim", "write")
        read = await read_and(request, read_submit)
        if isinstance(read, JSONResponse):
            return read
        return await _in_thread(submit, read, client)

    @app.get("/fhir/metadata", summary="The CapabilityStatement (open, as FHIR and SMART discovery expect)")
    def metadata():
        return fhir(200, capability_statement(decider.tool_version, lifecycle=settings.store is not None,
                                              authenticated=auth is not None))

    app.include_router(dtr_router(settings, read_and, authorize, fhir, next_question))  # DTR: $questionnaire-package, $next-question

    @app.get("/fhir/Questionnaire/lemtrada-pa", summary="The DTR Questionnaire, generated from the case model and KB")
    def read_questionnaire(request: Request):
        authorize(request, "Questionnaire", "read")
        return fhir(200, settings.questionnaire())

    @app.post("/v1/decide", summary="Decide one case (format v1, a JSON object); the decision object",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {}}}})
    async def v1_decide(request: Request):
        client = authorize(request, "Claim", "write")
        data = await read_and(request, read_case)
        if isinstance(data, JSONResponse):
            return data
        return await _in_thread(decide_json, data, client)

    @app.get("/healthz", summary="Liveness, the version of the loaded KB and the state of the deciders (open)")
    def healthz():
        if not hasattr(decider, "health"):
            return {"status": "ok", "kb_version": decider.kb_version}
        state = decider.health()
        failing = state.pop("failing")
        # ok: a decider is free; busy: all are deciding; starting: all are being replaced (requests
        # wait for them); unavailable (503): none is running and starting one is failing.
        if state["idle"]:
            status = "ok"
        elif state["deciding"]:
            status = "busy"
        else:
            status = "unavailable" if failing or not state["starting"] else "starting"
        return JSONResponse({"status": status, "kb_version": decider.kb_version, "deciders": state},
                            status_code=503 if status == "unavailable" else 200)

    if settings.docs:
        @app.get("/docs", include_in_schema=False)
        def docs():
            return HTMLResponse(_docs_page(app.openapi()), headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    _errors(app)
    return app


def _docs_page(schema: dict) -> str:
    """The API as one static HTML page, from its OpenAPI schema: no script, nothing fetched."""
    from html import escape

    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            media = ", ".join(operation.get("requestBody", {}).get("content", {})) or "&ndash;"
            rows.append(f"<tr><td>{escape(method.upper())}</td><td><code>{escape(path)}</code></td>"
                        f"<td>{escape(operation.get('summary', ''))}</td><td>{escape(media)}</td></tr>")
    info = schema.get("info", {})
    return ("<!doctype html><html lang=en><meta charset=utf-8>"
            f"<title>{escape(info.get('title', ''))} API</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left;"
            "border-bottom:1px solid #ccc}</style>"
            f"<h1>{escape(info.get('title', ''))} {escape(info.get('version', ''))}</h1>"
            f"<p>{escape(info.get('description', ''))}</p><p>The schema: <a href=/openapi.json>/openapi.json</a></p>"
            "<table><tr><th>method</th><th>path</th><th>what</th><th>body</th></tr>" + "".join(rows) + "</table>")


def _shown(path: str) -> str:
    """A request path as a message may show it: at most 200 characters, control characters escaped."""
    text = path[:200] + ("..." if len(path) > 200 else "")
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


async def _in_thread(function, *args):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


def _errors(app: FastAPI) -> None:
    """Every error in the form of its path: OperationOutcome under /fhir/, a JSON object elsewhere."""

    def answer(request: Request, status: int, code: str, error: str, message: str,
               headers: dict | None = None) -> JSONResponse:
        if request.url.path.startswith("/fhir/"):
            response = fhir_error(status, code, message)
        else:
            response = JSONResponse({"error": error, "message": message}, status_code=status)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            return answer(request, 404, "not-found", "not_found", f"no such path: {_shown(request.url.path)}")
        if exc.status_code == 405:
            return answer(request, 405, "not-supported", "method_not_allowed",
                          f"{request.method} is not supported on {_shown(request.url.path)}", headers=exc.headers)
        return answer(request, exc.status_code, "processing", "http_error", str(exc.detail))

    @app.exception_handler(AuthError)
    async def refused(request: Request, exc: AuthError):
        code = "login" if exc.status == 401 else "forbidden"
        challenge = f'Bearer error="{exc.error}"'
        return answer(request, exc.status, code, exc.error, str(exc), headers={"WWW-Authenticate": challenge})

    @app.exception_handler(LimitExceeded)
    async def over_limit(request: Request, exc: LimitExceeded):
        code = "timeout" if exc.what == "time" else "too-costly"
        return answer(request, 503, code, f"{exc.what}_limit", str(exc))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return answer(request, 503, "transient", "busy", f"{exc}; try again later", headers={"Retry-After": "5"})

    @app.exception_handler(SlowBody)
    async def slow_body(request: Request, exc: SlowBody):
        return answer(request, 408, "timeout", "request_timeout", str(exc), headers={"Connection": "close"})

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect):
        return answer(request, 400, "incomplete", "client_disconnected", "the client went away before its body was read")

    @app.exception_handler(DecisionFailed)
    async def failed(request: Request, exc: DecisionFailed):
        return answer(request, 500, "exception", "internal_error",
                      f"the decision could not be made ({exc.kind}); the request was not decided")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        return answer(request, 400, "invalid", "invalid_input", "the request could not be read")

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, exc: TooLarge):
        return answer(request, 413, "too-costly", "too_large", f"the body is over {MAX_BUNDLE_BYTES:,} bytes")

    @app.exception_handler(WrongMediaType)
    async def media(request: Request, exc: WrongMediaType):
        return answer(request, 415, "not-supported", "unsupported_media_type", str(exc))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        return answer(request, 500, "exception", "internal_error",
                      f"the decision could not be made ({type(exc).__name__}); the request was not decided")
