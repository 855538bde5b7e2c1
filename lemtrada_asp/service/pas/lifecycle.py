"""The pend lifecycle of PAS 2.x over the store: $submit, updates, cancellations, $inquire, Subscriptions.

A request flows one way: read -> (a replay? the stored answer) -> decide -> the
response Bundle fhir_out builds -> the lifecycle's additions (responses.py) ->
stored in one transaction with its state change and the notifications owed ->
logged -> answered -> notified. The same Claim identifier again is answered
with what was stored, never decided twice; when two servers store the same
Claim at once the store's unique key lets one win and the other answers with
the winner's answer, so one authorisation is issued.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from ...case.pas.fhir_in import BundleError, parse_body, read_bundle, unwrap_parameters
from ...case.pas.problems import AUTHORIZATION_NOT_FOUND, FhirProblem
from ..fhir_out import AUTHORIZATION_WINDOW_DAYS, response_bundle
from ..store import Conflict, Line, NewRequest, StateError, Store, Stored, states
from ..subscriptions import Deliverer, SubscriptionRequest, notification_bundle, read_subscription
from . import claims, responses

__all__ = ["Lifecycle", "Answered", "state_of"]

ENGINE = "lemtrada-asp decision engine"


@dataclass(frozen=True)
class Answered:
    """An answer and whether it was stored now (False: a replay of what was stored before)."""

    bundle: dict
    stored: Stored
    new: bool


def state_of(answer: dict) -> str:
    """The state a response Bundle puts its request in: from its outcome and the review action codes of its items."""
    response = responses.claim_response(answer)
    if response.get("outcome") == "error":
        return states.ERROR
    codes = responses.review_codes(answer)
    if codes and all(c == responses.CANCELLED_CODE for c in codes):
        return states.CANCELLED
    if "A4" in codes:
        return states.PENDED
    if "A1" in codes or "A2" in codes or "A6" in codes:
        return states.APPROVED
    if "A3" in codes:
        return states.DENIED
    return states.PENDED


def _lines(answer: dict) -> list[Line]:
    """The certified lines of an answer: each item with an authorised detail, under the ClaimResponse's preAuthRef."""
    response = responses.claim_response(answer)
    ref = response.get("preAuthRef")
    out = []
    for item in response.get("item") or []:
        exts = {e.get("url"): e for e in item.get("extension") or []}
        detail = exts.get(responses.ids.ITEM_AUTHORIZED_DETAIL)
        if not ref or detail is None:
            continue
        period = (exts.get(responses.ids.ITEM_PERIOD) or {}).get("valuePeriod") or response.get("preAuthPeriod") or {}
        quantity = next((str(e["valueQuantity"].get("value")) for e in detail.get("extension") or []
                         if e.get("url") == "quantity"), None)
        seq = item["itemSequence"]
        out.append(Line(ref if seq == response["item"][0]["itemSequence"] else f"{ref}-{seq}", seq,
                        period.get("start"), period.get("end"), quantity))
    return out


class Lifecycle:
    """The stored lifecycle of one worker: its store, the decide function, the decision log, the deliverer."""

    def __init__(self, store: Store, decide: Callable[[dict], dict], *, final_denials: bool = False,
                 reason_codes: dict[str, str] | None = None, logged: Callable[..., None] | None = None,
                 deliverer: Deliverer | None = None, authorization_window_days: int = AUTHORIZATION_WINDOW_DAYS):
        self.store = store
        self.authorization_window_days = authorization_window_days
        self.decide = decide
        self.final_denials = final_denials
        self.reason_codes = reason_codes or {}
        self.logged = logged
        self.deliverer = deliverer or Deliverer(store)
        if deliverer is None:
            self.deliverer.start()  # now, so notifications a stopped worker left pending are taken over

    # --- $submit ---------------------------------------------------------------------

    def submit(self, body: bytes, actor: str = ENGINE, *, client: str | None = None) -> Answered:
        """Answer a $submit body; BundleError for what is not a readable PAS request (400).

        A Claim identifier already stored is answered with the stored answer, never
        decided into a second authorisation; if the Bundle differs from the one
        stored, it is still read and its case checked first, so a broken resend
        gets its 400.
        """
        received = parse_body(body)
        bundle = unwrap_parameters(received)
        request = read_bundle(bundle, stored=True)
        claim = request.claim
        key = claims.identifier_key(claim)
        known = self.store.find(key) if key else None
        if known is not None:
            if known.bundle != bundle:  # the identifier again, other content: read as any request, then replayed
                self._decide(request)
            return Answered(known.answer, known, False)
        related = claims.related_keys(bundle)
        prior = self.store.find_any(related) if related else None
        decision_id = str(uuid.uuid4())
        tracking = uuid.uuid4().hex
        decision = None
        links: list[tuple[str, str]] = []  # the CRD answers / authorisations it names that this server issued
        if related and prior is None:
            answer = responses.error_answer(bundle, f"Claim.related names no stored request ({', '.join(related)}): "
                                                    f"an update must name the identifier of a request this server answered",
                                            code=AUTHORIZATION_NOT_FOUND, decision_id=decision_id)
        elif prior is None and claims.cancelled_sequences(claim):
            answer = responses.error_answer(bundle, "a line is marked infoCancelled (a cancellation), but Claim.related "
                                                    "names no authorisation this server holds: there is nothing to "
                                                    "cancel, and a cancelled line is never certified",
                                            code=AUTHORIZATION_NOT_FOUND, decision_id=decision_id,
                                            expression=claims.cancelled_path(claim))
        elif prior is not None and prior.state in states.FINAL:
            answer = responses.error_answer(bundle, f"the request {prior.identifier_key} is {prior.state}: it can no longer "
                                                    f"be updated", decision_id=decision_id)
        else:
            decision = self._decide(request)
            answer = response_bundle(decision, bundle, request.case, final_denials=self.final_denials,
                                     reason_codes=self.reason_codes, decision_id=decision_id, lines=request.lines,
                                     authorization_window_days=self.authorization_window_days)
            cancelled = claims.cancelled_sequences(claim)
            if cancelled:
                responses.cancel_lines(answer, cancelled)
            if state_of(answer) == states.PENDED:
                responses.add_tracking(answer, tracking)
                responses.add_communication_request(answer, bundle, decision, tracking)
            from ..crd.links import link  # coverage-assertion-id / satisfied-pa-id (service/crd/links.py)
            links = link(self.store, bundle, answer)
        new = NewRequest(identifier_key=key, state=state_of(answer), bundle=bundle, answer=answer,
                         claim_response_id=decision_id, case=request.case, decision=decision,
                         provider_ids=claims.provider_ids(bundle), lines=_lines(answer), tracking_id=tracking,
                         links=links)
        try:
            stored, notes = self.store.submit(new, actor, replaces=prior if decision is not None else None,
                                              cancelled_lines=claims.cancelled_sequences(claim), notify=self._notify)
        except Conflict:  # another server stored this Claim first: its answer is the answer
            known = self.store.find(key)
            return Answered(known.answer, known, False)
        except StateError as exc:  # the request it updates was moved meanwhile by another update
            answer = responses.error_answer(bundle, str(exc), decision_id=decision_id)
            new.state, new.answer, new.lines, new.decision, new.links = states.ERROR, answer, [], None, []
            try:
                stored, notes = self.store.submit(new, actor, notify=self._notify)
            except Conflict:
                known = self.store.find(key)
                return Answered(known.answer, known, False)
        if self.logged is not None and decision is not None:
            self.logged("fhir/Claim/$submit", received, request.case, decision, decision_id, client)
        self._log_moves(stored, prior, received, request.case, decision)
        self.deliverer.deliver(notes)
        return Answered(answer, stored, True)

    def _decide(self, request) -> dict:
        """The decision of a request's case, as the store-less $submit decides it (app.decide_request)."""
        from ..app import decide_request

        return decide_request(self.decide, request)

    def _log_moves(self, stored: Stored, prior: Stored | None, received: Any, case: dict, decision: dict | None) -> None:
        """Each state move in the decision log too (its public record, through the app's ``logged``)."""
        if self.logged is None or decision is None:
            return
        moves = [(stored, states.NEW, stored.state)]
        if prior is not None:
            moves.append((prior, prior.state, states.CANCELLED if stored.state == states.CANCELLED else states.REPLACED))
        for request, source, target in moves:
            self.logged("lifecycle/state", received, case, decision, f"{stored.id}:{request.id}:{target}",
                        move={"request": request.identifier_key or request.tracking_id, "from": source, "to": target,
                              "actor": ENGINE})

    def _notify(self, subscription: dict, event_number: int, change) -> dict:
        return notification_bundle(subscription, event_number, change)

    # --- reviewer moves (the review desk calls this) ---------------------------------

    def review(self, identifier_key: str, verdict: str, reviewer: str, reason: str = "") -> Stored:
        """A reviewer's final decision on a pended request (``approve`` or ``deny``): answered anew, stored, notified.

        The new answer is the ClaimResponse fhir_out builds for that decision on the
        stored request, marked ``wasHumanReviewedFlag`` true; a signed denial is
        ``A3``, an approval certifies the course as requested (``A1``, a new
        preAuthRef). The move is recorded with the reviewer as its actor.
        """
        if verdict not in ("approve", "deny"):
            raise StateError(f"a reviewer approves or denies, not {verdict!r}")
        stored = self.store.find(identifier_key)
        if stored is None or stored.decision is None or stored.case is None:
            raise StateError(f"no decided request {identifier_key} is stored")
        if stored.state != states.PENDED:
            raise StateError(f"request {identifier_key} is {stored.state}, not pended: a reviewer decides pended requests only")
        decision = {**stored.decision, "decision": verdict, "pend_reason": None}
        if verdict == "approve":
            request = stored.case["request"]
            mg = request["dose_mg_per_day"] * request["days"]
            decision["authorized"] = {"mg": mg, "mg_per_day": request["dose_mg_per_day"], "days": request["days"],
                                      "hcpcs": [{"code": responses.ids.LEMTRADA_HCPCS, "units": mg}]}
            decision.setdefault("advisories", [])
        decision_id = str(uuid.uuid4())
        answer = self._reanswered(stored, decision, decision_id)
        responses.human_reviewed(answer, reviewer)
        target = states.APPROVED if verdict == "approve" else states.DENIED
        moved, notes = self.store.move(stored.id, target, f"reviewer {reviewer}", reason, answer=answer,
                                       claim_response_id=decision_id, decision=decision, lines=_lines(answer),
                                       notify=self._notify)
        if self.logged is not None:
            self.logged("lifecycle/review", None, stored.case, decision, decision_id,
                        move={"request": identifier_key, "from": stored.state, "to": target,
                              "actor": f"reviewer {reviewer}", "reason": reason})
        self.deliverer.deliver(notes)
        return moved

    def request_records(self, identifier_key: str, reviewer: str, asked: str) -> Stored:
        """A reviewer asks for more records: the request stays pended, answered anew and notified.

        The new answer is ``A4`` (pended for information), ``wasHumanReviewedFlag``
        true, with the request's tracking number and a CommunicationRequest whose
        payload carries the reviewer's words (after any criterion still undocumented);
        the move pended -> pended is recorded with the reviewer as its actor.
        """
        stored = self.store.find(identifier_key)
        if stored is None or stored.decision is None or stored.case is None:
            raise StateError(f"no decided request {identifier_key} is stored")
        if stored.state != states.PENDED:
            raise StateError(f"request {identifier_key} is {stored.state}, not pended: a reviewer decides pended requests only")
        decision = {**stored.decision, "decision": "pend", "pend_reason": "information"}
        decision_id = str(uuid.uuid4())
        answer = self._reanswered(stored, decision, decision_id)
        responses.add_tracking(answer, stored.tracking_id)
        responses.add_communication_request(answer, stored.bundle, decision, stored.tracking_id, asked=(asked,))
        responses.human_reviewed(answer, reviewer)
        moved, notes = self.store.move(stored.id, states.PENDED, f"reviewer {reviewer}", asked, answer=answer,
                                       claim_response_id=decision_id, decision=stored.decision, notify=self._notify)
        if self.logged is not None:
            self.logged("lifecycle/review", None, stored.case, decision, decision_id,
                        move={"request": identifier_key, "from": stored.state, "to": states.PENDED,
                              "actor": f"reviewer {reviewer}", "reason": asked})
        self.deliverer.deliver(notes)
        return moved

    def _reanswered(self, stored: Stored, decision: dict, decision_id: str) -> dict:
        """A reviewer's answer to a stored request: every line of it answered as $submit answers lines
        (read again from the stored Bundle), over the same authorisation window; a denial is A3."""
        lines = read_bundle(stored.bundle, stored=True).lines
        return response_bundle(decision, stored.bundle, stored.case, final_denials=True, reason_codes=self.reason_codes,
                               decision_id=decision_id, lines=lines, authorization_window_days=self.authorization_window_days)

    # --- $inquire --------------------------------------------------------------------

    def inquire(self, body: bytes) -> dict:
        """The current answer of the stored request an inquiry Bundle's Claim names (its identifier or a tracking number)."""
        received = parse_body(body)
        bundle = unwrap_parameters(received)
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise BundleError([FhirProblem(None, "structure", "expected a PAS inquiry Bundle")])
        entries = bundle.get("entry")
        claim = (entries[0] or {}).get("resource") if isinstance(entries, list) and entries and isinstance(entries[0], dict) else None
        if not isinstance(claim, dict) or claim.get("resourceType") != "Claim":
            raise BundleError([FhirProblem("Bundle.entry[0].resource", "structure", "expected the inquiry Claim first")])
        keys = claims.identifier_keys(claim) + claims.related_keys(bundle)
        values = [k.split("|", 1)[1] for k in keys]
        stored = self.store.find_any(keys, values)
        if stored is None:
            for field in ("type", "patient", "insurer", "provider"):
                if not claim.get(field):
                    raise BundleError([FhirProblem(f"Bundle.entry[0].resource.{field}", "required",
                                                   f"the inquiry Claim needs {field}")])
            return responses.error_answer(bundle, "no stored request has the inquiry Claim's identifier "
                                                  f"({', '.join(keys) or 'none given'})")
        current = self.store.latest(stored)
        answer = dict(current.answer)
        answer["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return answer

    # --- Subscription ----------------------------------------------------------------

    def subscribe(self, body: bytes) -> dict:
        """Store a Subscription to PAS's topic; BundleError (400) for one this server cannot serve."""
        request: SubscriptionRequest = read_subscription(parse_body(body))
        return self.store.add_subscription(endpoint=request.endpoint, content=request.content, headers=request.headers,
                                           filters=request.filters, resource=lambda sid: {**request.resource, "id": sid})
