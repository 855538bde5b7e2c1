"""The lifecycle's HTTP routes: $submit (stored), $inquire, Subscription; mounted by app.py when a store is on.

Mounted before the app's own ``$submit`` route, so with a store every $submit
goes through the lifecycle; without one (``serve --no-store``) the app answers
as fhir-pas.md version 1 did, storing nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...case.pas.fhir_in import parse_body, unwrap_parameters
from ...case.pas.problems import BundleError, BusinessError
from ..fhir_out import error_response, operation_outcome
from .lifecycle import Lifecycle

__all__ = ["router"]


def router(lifecycle: Lifecycle, read_and, authorize, fhir) -> APIRouter:
    """The routes over one Lifecycle; ``read_and``, ``authorize`` and ``fhir`` are the app's own.

    ``read_and(request, parse)`` reads a body within the app's limits (timeouts, the gate
    on large bodies) and parses it in a thread; ``authorize(request, resource, action)``
    checks the client's token (the app's 401/403 when it does not grant the action) and
    gives its client id.
    """
    routes = APIRouter()

    def answered(function, status: int = 200):
        def parse(body: bytes):
            try:
                return fhir(status, function(body))
            except BusinessError as exc:  # readable, not decidable: a ClaimResponse error (version 2), 200
                return fhir(200, error_response(unwrap_parameters(parse_body(body)), exc.problems))
            except BundleError as exc:
                return fhir(400, operation_outcome(exc.problems))
        return parse

    @routes.post("/fhir/Claim/$submit", summary="Da Vinci PAS $submit: decided once per Claim identifier, stored",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {}}}})
    async def claim_submit(request: Request):
        client = authorize(request, "Claim", "write")
        return await read_and(request, answered(lambda b: lifecycle.submit(b, client=client).bundle))

    @routes.post("/fhir/Claim/$inquire", summary="Da Vinci PAS $inquire: the current answer of a stored request",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {}}}})
    async def claim_inquire(request: Request):
        authorize(request, "Claim", "read")
        return await read_and(request, answered(lifecycle.inquire))

    @routes.post("/fhir/Subscription", summary="R4 Subscriptions Backport: a rest-hook Subscription to PAS's topic",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {}}}})
    async def subscription_create(request: Request):
        authorize(request, "Subscription", "write")
        return await read_and(request, answered(lifecycle.subscribe, 201))

    def read(request: Request, kind: str, resource_id: str, find):
        """A stored resource for a client allowed to read it: 200, or a 404 OperationOutcome."""
        from ..app import fhir_error

        authorize(request, kind, "read")
        found = find(resource_id)
        if found is None:
            return fhir_error(404, "not-found", f"no {kind} {resource_id}")
        found.pop("_events", None)  # the store's own bookkeeping of a Subscription
        return fhir(200, found)

    @routes.get("/fhir/ClaimResponse/{response_id}", summary="A ClaimResponse the service answered (a notification's focus)")
    def claim_response_read(request: Request, response_id: str):
        return read(request, "ClaimResponse", response_id, lifecycle.store.claim_response)

    @routes.get("/fhir/Subscription/{sub_id}", summary="A stored Subscription")
    def subscription_read(request: Request, sub_id: str):
        return read(request, "Subscription", sub_id, lifecycle.store.subscription)

    return routes
