"""The HTTP service: FastAPI routes of fhir-pas.md ("Endpoints") over one loaded engine.

The app is built around a ``Decider`` -- the loaded policy of this worker
process -- so requests never load the KB. Every error is an answer: under
``/fhir/`` an OperationOutcome, under ``/v1/`` a JSON object, never a traceback.
Routes are plain (sync) functions: Starlette runs them in its thread pool, so a
decision being solved never blocks the event loop that accepts the next request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .decision_log import DecisionLog
from ..case.pas.fhir_in import MAX_BUNDLE_BYTES, BundleError, parse_body, read_bundle, unwrap_parameters
from .fhir_out import capability_statement, operation_outcome, response_bundle
from ..case.pas.problems import FhirProblem

FHIR_JSON = "application/fhir+json"
MEDIA_TYPES = {"application/fhir+json", "application/json"}


class CaseInvalid(Exception):
    """A case that breaks the case format: ``problems`` of (field, message), ``case_id`` when valid."""

    def __init__(self, problems: list[tuple[str, str]], case_id: str | None):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems, self.case_id = problems, case_id


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
    mask_member_ids: bool = False
    questionnaire: Callable[[], dict] | None = None
    store: Any = None  # a service.store.Store: $submit goes through the stored lifecycle (service/pas/)


def fhir(status: int, content: dict) -> JSONResponse:
    return JSONResponse(content, status_code=status, media_type=FHIR_JSON)


def fhir_error(status: int, code: str, message: str, expression: str | None = None) -> JSONResponse:
    return fhir(status, operation_outcome([FhirProblem(expression, code, message)]))


class TooLarge(Exception):
    pass


class WrongMediaType(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The request body, refused past the size limit without reading it all, and only as JSON."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise WrongMediaType(f"expected Content-Type application/fhir+json or application/json, got {media or 'none'!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BUNDLE_BYTES:
        raise TooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BUNDLE_BYTES:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(decider: Decider, settings: Settings) -> FastAPI:
    app = FastAPI(title="lemtrada-asp", version=decider.tool_version,
                  description="Prior authorization for Lemtrada: Da Vinci PAS $submit and a JSON decision API.")
    log = DecisionLog(settings.decision_log, settings.mask_member_ids) if settings.decision_log else None
    lock = threading.Lock()  # one engine per worker; decisions in it are taken one at a time

    def decide(case: dict, corrections: bool = False) -> dict:
        with lock:
            return decider.decide(case, corrections=corrections)

    def logged(endpoint: str, received: Any, case: dict, decision: dict, decision_id: str | None = None) -> None:
        if log is not None:
            log.record(endpoint=endpoint, received=received, case=case, decision=decision,
                       kb_version=decider.kb_version, tool_version=decider.tool_version, decision_id=decision_id)

    if settings.store is not None:  # mounted first: its $submit is the one that answers
        from .pas.lifecycle import Lifecycle
        from .pas.routes import router

        from .desk import mount as mount_desk

        lifecycle = Lifecycle(settings.store, decide, final_denials=settings.final_denials,
                              reason_codes=settings.reason_codes, logged=logged)
        app.include_router(router(lifecycle, _body, fhir))
        mount_desk(app, lifecycle, decider, lock)  # the review desk at /desk/: reviewers' own sign-in

    def submit(body: bytes) -> JSONResponse:
        import uuid

        try:
            received = parse_body(body)
            request = read_bundle(unwrap_parameters(received))
            try:
                decision = decide(request.case)
            except CaseInvalid as exc:
                raise BundleError(
                    [FhirProblem(request.origin(f), "invalid", f"{f}: {m}" if f else m) for f, m in exc.problems],
                    exc.case_id) from None
        except BundleError as exc:
            return fhir(400, operation_outcome(exc.problems))
        decision_id = str(uuid.uuid4())
        answer = response_bundle(decision, request.bundle, request.case, final_denials=settings.final_denials,
                                 reason_codes=settings.reason_codes, decision_id=decision_id)
        logged("fhir/Claim/$submit", received, request.case, decision, decision_id)
        return fhir(200, answer)

    def decide_json(body: bytes) -> JSONResponse:
        from ..engine.loading import MAX_CASE_BYTES, load_json

        def invalid(message: str, field: str = "") -> JSONResponse:
            return JSONResponse({"case_id": None, "error": "invalid_input",
                                 "problems": [{"field": field, "message": message}]}, 400)

        if len(body) > MAX_CASE_BYTES:  # as decide: a case is at most 1,000,000 bytes
            return invalid(f"case is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
        try:
            data = load_json(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return invalid(f"not UTF-8 text (byte {exc.start + 1})")
        except (ValueError, RecursionError) as exc:  # as decide reads a .json case file
            return invalid(str(exc) or "too deeply nested to read", getattr(exc, "field", ""))
        try:
            decision = decide(data, corrections=True)  # what `decide --format json` prints, corrections included
        except CaseInvalid as exc:
            return JSONResponse({"case_id": exc.case_id, "error": "invalid_input",
                                 "problems": [{"field": f, "message": m} for f, m in exc.problems]}, 400)
        logged("v1/decide", data, data, decision)
        return JSONResponse(decision)

    @app.post("/fhir/Claim/$submit", summary="Da Vinci PAS $submit: a request Bundle in, a response Bundle out",
              openapi_extra={"requestBody": {"required": True, "content": {FHIR_JSON: {}}}})
    async def claim_submit(request: Request):
        body = await _body(request)
        return await _in_thread(submit, body)

    @app.get("/fhir/metadata", summary="The CapabilityStatement")
    def metadata():
        return fhir(200, capability_statement(decider.tool_version))

    @app.get("/fhir/Questionnaire/lemtrada-pa", summary="The DTR Questionnaire, generated from the case model and KB")
    def read_questionnaire():
        return fhir(200, settings.questionnaire())

    @app.post("/v1/decide", summary="Decide one case (format v1); the decision object",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {}}}})
    async def v1_decide(request: Request):
        body = await _body(request)
        return await _in_thread(decide_json, body)

    @app.get("/healthz", summary="Liveness, and the version of the loaded KB")
    def healthz():
        return {"status": "ok", "kb_version": decider.kb_version}

    _errors(app)
    return app


async def _in_thread(function, *args):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


def _errors(app: FastAPI) -> None:
    """Every error in the form of its path: OperationOutcome under /fhir/, a JSON object elsewhere."""

    def answer(request: Request, status: int, code: str, error: str, message: str) -> JSONResponse:
        if request.url.path.startswith("/fhir/"):
            return fhir_error(status, code, message)
        return JSONResponse({"error": error, "message": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            return answer(request, 404, "not-found", "not_found", f"no such path: {request.url.path}")
        if exc.status_code == 405:
            return answer(request, 405, "not-supported", "method_not_allowed",
                          f"{request.method} is not supported on {request.url.path}")
        return answer(request, exc.status_code, "processing", "http_error", str(exc.detail))

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
