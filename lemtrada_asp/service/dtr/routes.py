"""DTR's HTTP routes: ``$questionnaire-package`` and ``$next-question``, mounted by app.py.

Bounded and authenticated as every other route: the body is read through the app's
``read_and`` (size limit, read timeout, the gate on large bodies) and parsed in a
thread; ``authorize`` checks the token grants ``Questionnaire`` ``read`` (neither
operation changes anything) before the body is read. A body is a JSON object;
every error is an OperationOutcome.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from fastapi import APIRouter, Request

from ...case.pas.fhir_in import parse_body
from ...case.pas.problems import BundleError
from ..fhir_out import operation_outcome
from . import adaptive, package

__all__ = ["NEXT_QUESTION_DEFINITION", "PACKAGE_DEFINITION", "router"]

PACKAGE_DEFINITION = "http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/questionnaire-package"
NEXT_QUESTION_DEFINITION = "http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-next-question"
FHIR_BODY = {"requestBody": {"required": True, "content": {"application/fhir+json": {}}}}


def router(settings: Any, read_and, authorize, fhir, choose: Callable[[dict, list[str]], str | None]) -> APIRouter:
    """The DTR routes over the app's Settings (its Questionnaire); the app's own body reader, token
    check and FHIR response; ``choose(case, asked)``, ``workflow.adaptive.next_question`` run by a
    decider, within the server's time and memory limits."""
    routes = APIRouter()

    def answered(function: Callable[[Any], dict]) -> Callable[[bytes], Any]:
        def parse(body: bytes):
            try:
                return fhir(200, function(parse_body(body)))
            except BundleError as exc:
                status = 404 if all(p.code == "not-found" for p in exc.problems) else 400
                return fhir(status, operation_outcome(exc.problems))
        return parse

    def questionnaire_package(data: Any) -> dict:
        inputs = package.read_input(data)
        return package.package(settings.questionnaire(), inputs, lambda: str(uuid.uuid4()))

    def next_question(data: Any) -> dict:
        qr, where = adaptive.read_input(data)
        return adaptive.next_question(qr, where, settings.questionnaire(), choose)

    @routes.post("/fhir/Questionnaire/$questionnaire-package", openapi_extra=FHIR_BODY,
                 summary="Da Vinci DTR $questionnaire-package: the Questionnaire, its ValueSets and pre-population")
    async def questionnaire_package_route(request: Request):
        authorize(request, "Questionnaire", "read")
        return await read_and(request, answered(questionnaire_package))

    @routes.post("/fhir/Questionnaire/$next-question", openapi_extra=FHIR_BODY,
                 summary="SDC/DTR $next-question: the adaptive form's next question, chosen by the solver")
    async def next_question_route(request: Request):
        authorize(request, "Questionnaire", "read")
        return await read_and(request, answered(next_question))

    return routes
