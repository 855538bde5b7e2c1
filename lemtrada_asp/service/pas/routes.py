"""The lifecycle's HTTP routes: $submit (stored), $inquire, Subscription; mounted by app.py when a store is on.

Mounted before the app's own ``$submit`` route, so with a store every $submit
goes through the lifecycle; without one (``serve --no-store``) the app answers
as fhir-pas.md version 1 did, storing nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...case.pas.problems import BundleError
from ..fhir_out import operation_outcome
from .lifecycle import Lifecycle

__all__ = ["router"]


def router(lifecycle: Lifecycle, read_body, fhir) -> APIRouter:
    """The routes over one Lifecycle; ``read_body`` and ``fhir`` are the app's own (limits, media types, answers)."""
    routes = APIRouter()

    def answer(function, body: bytes, status: int = 200):
        try:
            return fhir(status, function(body))
        except BundleError as exc:
            return fhir(400, operation_outcome(exc.problems))

    @routes.post("/fhir/Claim/$submit", summary="Da Vinci PAS $submit: decided once per Claim identifier, stored",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {}}}})
    async def claim_submit(request: Request):
        body = await read_body(request)
        return await run_in_threadpool(answer, lambda b: lifecycle.submit(b).bundle, body)

    @routes.post("/fhir/Claim/$inquire", summary="Da Vinci PAS $inquire: the current answer of a stored request",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {}}}})
    async def claim_inquire(request: Request):
        body = await read_body(request)
        return await run_in_threadpool(answer, lifecycle.inquire, body)

    @routes.post("/fhir/Subscription", summary="R4 Subscriptions Backport: a rest-hook Subscription to PAS's topic",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {}}}})
    async def subscription_create(request: Request):
        body = await read_body(request)
        return await run_in_threadpool(answer, lifecycle.subscribe, body, 201)

    @routes.get("/fhir/Subscription/{sub_id}", summary="A stored Subscription")
    def subscription_read(sub_id: str):
        found = lifecycle.store.subscription(sub_id)
        if found is None:
            from ..app import fhir_error

            return fhir_error(404, "not-found", f"no Subscription {sub_id}")
        found.pop("_events", None)
        return fhir(200, found)

    return routes
