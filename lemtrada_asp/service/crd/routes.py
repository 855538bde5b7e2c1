"""The CRD routes: ``GET /cds-services`` (discovery, open as /fhir/metadata is) and ``POST /cds-services/{id}``.

A hook call is read within the app's limits (body size, read time, the gate on
large bodies: ``read_and``), needs the client's bearer token as every other
route does (``authorize``: a scope granting read on Coverage, e.g.
``system/Coverage.read`` or ``system/*.read``), and is decided in a decider
process like any request. Errors are JSON objects ``{"error", "message",
"field"}``: 400 for a body that is not a hook request, 404 for a service this
server does not offer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .discovery import discovery
from .hooks import SERVICES, HookError, read_call
from .service import Answerer

__all__ = ["router"]


def _parse(body: bytes) -> Any:
    from ...engine.loading import load_json

    try:
        return load_json(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise HookError("", f"the body is not UTF-8 text (byte {exc.start + 1})") from None
    except (ValueError, RecursionError) as exc:
        raise HookError("", f"the body is not JSON: {exc or 'nested too deep'}") from None


def _bad(exc: HookError) -> JSONResponse:
    return JSONResponse({"error": "invalid_input", "field": exc.field, "message": exc.message}, 400)


def router(answerer: Answerer, read_and, authorize, in_thread) -> APIRouter:
    """The routes over one Answerer; ``read_and``, ``authorize`` and ``in_thread`` are the app's own."""
    routes = APIRouter()

    @routes.get("/cds-services", summary="CDS Hooks discovery: the CRD services for Lemtrada orders (open)")
    def cds_discovery():
        return discovery()

    @routes.post("/cds-services/{service_id}", summary="A CRD hook call: coverage information for a Lemtrada order",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/json": {}}}})
    async def cds_call(request: Request, service_id: str):
        client = authorize(request, "Coverage", "read")
        if service_id not in SERVICES:
            from ..app import _shown

            return JSONResponse({"error": "not_found", "message": f"no CDS service {_shown(service_id)!r}; "
                                                                  f"this server offers {', '.join(SERVICES)}"}, 404)

        def read(body: bytes):
            try:
                return read_call(_parse(body), service_id)
            except HookError as exc:
                return _bad(exc)

        call = await read_and(request, read)
        if isinstance(call, JSONResponse):
            return call
        if not call.orders:
            return {"cards": []}  # no alemtuzumab order: CRD has nothing to say
        return await in_thread(answerer.answer, call, client)

    return routes
