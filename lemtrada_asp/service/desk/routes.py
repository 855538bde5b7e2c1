"""The review desk's pages under /desk/: sign-in, the queue, one request, deciding, the letters.

Server-rendered Jinja pages, no script; every page but the sign-in form needs a
live session (a GET without one is sent to the sign-in page, a POST refused with
403), every POST needs the session's CSRF token and, when the browser sends an
Origin, this server's. A decision goes through the PAS lifecycle (Lifecycle.review,
or request_records for more records) with the signed-in reviewer as its actor --
no form field can name another -- and its letter, signed with the reviewer's
name, credentials, reason and time, is stored as a PDF beside it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any, Callable

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ...render.explain import tree
from ...render.html import tree_html
from ...render.letters import Signer
from ..pas.lifecycle import Lifecycle
from ..pas.responses import claim_response, review_codes, was_human_reviewed
from ..store import StateError, states
from ..store.desk import DeskRecords
from . import paperwork as docs
from .auth import (SESSION_COOKIE, SESSION_HOURS, SIGN_IN_COOKIE, SIGN_IN_FORM_MINUTES, Sessions, Signed,
                   loopback, new_token, refused_sign_in_message, same_token)
from .queue import REASONS, entry

__all__ = ["router", "PREFIX", "MAX_REASON_CHARS"]

PREFIX = "/desk"
MAX_REASON_CHARS = 2000  # a reviewer's reason is a paragraph, not a document
# Nothing loads from anywhere but this server; no script runs at all; only the desk frames the desk.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-src 'self'; "
       "frame-ancestors 'self'; base-uri 'none'")


@lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader("lemtrada_asp.service.desk", "templates"),
                                  jinja2.PackageLoader("lemtrada_asp.service.desk", "static"),  # desk.css, inlined
                                  jinja2.PackageLoader("lemtrada_asp.render", "templates")])
    env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    from ...render.html import _environment as tree_environment

    env.filters.update(tree_environment().filters)  # the tree's filters (words, glyph, css) for its legend
    env.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""
    return env


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # no-referrer would make Chromium send "Origin: null"
    return response


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(prefix=PREFIX, reasons=REASONS, **context)
    return _headers(HTMLResponse(html, status_code=status))


def _to(path: str) -> RedirectResponse:
    return _headers(RedirectResponse(PREFIX + path, status_code=303))


def _now() -> datetime:
    """Naive UTC, as the store keeps its times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def router(lifecycle: Lifecycle, explain: Callable[[dict], Any], sentences: Callable[[], dict]) -> APIRouter:
    """The desk's routes over the PAS lifecycle; ``explain(case)`` decides a case with details and corrections."""
    routes = APIRouter(prefix=PREFIX, include_in_schema=False)
    records = DeskRecords(lifecycle.store)
    sessions = Sessions(records)

    def cookie(request: Request, response: Response, name: str, value: str | None, max_age: int) -> Response:
        secure = not loopback(request.url.scheme, request.url.hostname)
        if value is None:
            response.delete_cookie(name, path=PREFIX, secure=secure, httponly=True, samesite="strict")
        else:
            response.set_cookie(name, value, max_age=max_age, path=PREFIX, secure=secure, httponly=True,
                                samesite="strict")
        return response

    def signed(request: Request) -> Signed | None:
        return sessions.current(request.cookies.get(SESSION_COOKIE))

    def refused(message: str, status: int = 403) -> HTMLResponse:
        return _page("refused.html.j2", status, message=message, signed=None)

    def foreign_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is not None and origin != str(request.base_url).rstrip("/")

    async def posted(request: Request) -> tuple[Signed | None, dict, HTMLResponse | None]:
        """The reviewer and form of a POST, or the refusal: no session, a foreign origin, a wrong CSRF token."""
        who = await run_in_threadpool(signed, request)
        if who is None:
            return None, {}, refused("Sign in first: this action needs a reviewer's session.")
        if foreign_origin(request):
            return None, {}, refused("This form was sent from another site.")
        form = dict(await request.form())
        if not same_token(form.get("csrf") if isinstance(form.get("csrf"), str) else None, who.csrf):
            return None, {}, refused("The form's security token is missing or wrong: reload the page and try again.")
        return who, form, None

    # --- sign-in ------------------------------------------------------------------------

    def sign_in_page(request: Request, status: int = 200, message: str | None = None, name: str = "") -> Response:
        token = new_token()
        page = _page("sign_in.html.j2", status, csrf=token, message=message, name=name, signed=None)
        return cookie(request, page, SIGN_IN_COOKIE, token, SIGN_IN_FORM_MINUTES * 60)

    @routes.get("/")
    @routes.get("")
    def home(request: Request):
        return _to("/queue" if signed(request) else "/sign-in")

    @routes.get("/sign-in")
    def sign_in_form(request: Request):
        if signed(request):
            return _to("/queue")
        return sign_in_page(request)

    @routes.post("/sign-in")
    async def sign_in(request: Request):
        if foreign_origin(request):
            return refused("This form was sent from another site.")
        form = await request.form()
        name, password, token = (form.get(k) for k in ("name", "password", "csrf"))
        if not all(isinstance(v, str) for v in (name, password, token)) or \
                not same_token(token, request.cookies.get(SIGN_IN_COOKIE)):
            return refused("The sign-in form's security token is missing or wrong: reload the page and try again.")
        opened = await run_in_threadpool(sessions.sign_in, name.strip(), password)
        if opened is None:
            return sign_in_page(request, 401, refused_sign_in_message(), name)
        response = cookie(request, _to("/queue"), SESSION_COOKIE, opened[0], SESSION_HOURS * 3600)
        return cookie(request, response, SIGN_IN_COOKIE, None, 0)

    @routes.post("/sign-out")
    async def sign_out(request: Request):
        who, _, refusal = await posted(request)
        if refusal:
            return refusal
        await run_in_threadpool(sessions.sign_out, who)
        return cookie(request, _to("/sign-in"), SESSION_COOKIE, None, 0)

    # --- the queue ----------------------------------------------------------------------

    @routes.get("/queue")
    def queue(request: Request, reason: str = ""):
        who = signed(request)
        if who is None:
            return _to("/sign-in")
        entries = [entry(q) for q in records.pended()]
        counts = {r: sum(e.reason == r for e in entries) for r in REASONS}
        chosen = reason if reason in REASONS else ""
        shown = [e for e in entries if not chosen or e.reason == chosen]
        return _page("queue.html.j2", signed=who, entries=shown, total=len(entries), counts=counts, chosen=chosen,
                     unknown=reason if reason and not chosen else "", now=_now())

    # --- one request --------------------------------------------------------------------

    def view(who: Signed, request_id: str, *, status: int = 200, errors: list[str] | None = None,
             form: dict | None = None, just_signed: str = "") -> Response:
        queued = records.request(request_id)
        if queued is None or queued.stored.decision is None or queued.stored.case is None:
            return _page("refused.html.j2", 404, message=f"No decided request {request_id} is stored.", signed=who)
        stored = queued.stored
        recommendation = explain(stored.case)
        response = claim_response(stored.answer)
        pended = stored.state == states.PENDED
        return _page("request.html.j2", status, signed=who, queued=queued, stored=stored,
                     item=entry(queued) if pended else None, pended=pended,
                     tree=tree_html(tree(recommendation), sentences(), anchor="c"),
                     recommended=docs.recommendation_words(stored.decision), documents=docs.documents(stored.bundle),
                     history=lifecycle.store.history(stored.id), letters=records.letters(stored.id),
                     answer={"disposition": response.get("disposition", ""), "reviewed": was_human_reviewed(stored.answer),
                             "codes": review_codes(stored.answer), "pre_auth_ref": response.get("preAuthRef")},
                     verdicts=docs.VERDICTS, errors=errors or [], form=form or {}, now=_now(),
                     max_reason=MAX_REASON_CHARS, decidable=pended and stored.identifier_key is not None,
                     just_signed=just_signed if just_signed in docs.VERDICTS else "")

    @routes.get("/requests/{request_id}")
    def one(request: Request, request_id: str, signed_now: str = Query("", alias="signed")):
        who = signed(request)
        if who is None:
            return _to("/sign-in")
        return view(who, request_id, just_signed=signed_now)

    def draft(request_id: str):
        queued = records.request(request_id)
        if queued is None or queued.stored.case is None:
            return None
        return explain(queued.stored.case)

    def with_draft(request: Request, request_id: str, answer):
        """answer(decision) for a signed-in reviewer and a decided stored request; sign-in or 404 otherwise."""
        who = signed(request)
        if who is None:
            return _to("/sign-in")
        decision = draft(request_id)
        if decision is None:
            return _page("refused.html.j2", 404, message=f"No decided request {request_id} is stored.", signed=who)
        return answer(decision)

    @routes.get("/requests/{request_id}/letter")
    def letter_preview(request: Request, request_id: str):
        return with_draft(request, request_id, lambda decision: _headers(HTMLResponse(docs.letter_html(decision))))

    @routes.get("/requests/{request_id}/letter.pdf")
    def letter_download(request: Request, request_id: str):
        return with_draft(request, request_id,
                          lambda decision: _pdf(docs.letter_pdf(decision), f"draft-letter-{decision.case_id}.pdf"))

    @routes.get("/requests/{request_id}/letters/{letter_id}.pdf")
    def signed_letter(request: Request, request_id: str, letter_id: str):
        who = signed(request)
        if who is None:
            return _to("/sign-in")
        pdf = records.letter_pdf(request_id, int(letter_id)) if letter_id.isdigit() and len(letter_id) < 10 else None
        if pdf is None:
            return _page("refused.html.j2", 404, message=f"No signed letter {letter_id} of request {request_id}.",
                         signed=who)
        return _pdf(pdf, f"signed-letter-{letter_id}.pdf")

    # --- deciding -----------------------------------------------------------------------

    def decide(who: Signed, request_id: str, form: dict) -> Response:
        verdict = form.get("verdict") if isinstance(form.get("verdict"), str) else ""
        reason = (form.get("reason") if isinstance(form.get("reason"), str) else "").strip()
        errors = []
        if verdict not in docs.VERDICTS:
            errors.append("Choose a decision: approve, deny, or ask for more records.")
        if not reason:
            errors.append("Give the reason for the decision: it goes into the letter and the request's record.")
        elif len(reason) > MAX_REASON_CHARS:
            errors.append(f"The reason is longer than {MAX_REASON_CHARS} characters.")
        if form.get("attest") != "yes":
            errors.append("Tick the box that you sign this decision under your name and credentials.")
        if errors:
            return view(who, request_id, status=400, errors=errors, form={"verdict": verdict, "reason": reason})
        queued = records.request(request_id)
        if queued is None or queued.stored.identifier_key is None or queued.stored.case is None:
            return _page("refused.html.j2", 404, message=f"No request {request_id} this desk can decide.", signed=who)
        stored = queued.stored
        try:
            import weasyprint  # noqa: F401  (the signed letter is a PDF: checked before anything moves)
        except (ImportError, OSError) as exc:
            return view(who, request_id, status=503, errors=[f"The signed letter cannot be made as a PDF here ({exc}): "
                                                              f"install the pdf extra; nothing was decided."])
        recommendation = explain(stored.case)
        reviewer = f"{who.reviewer.name}, {who.reviewer.credentials}"
        try:
            if verdict == "records":
                moved = lifecycle.request_records(stored.identifier_key, reviewer, reason)
            else:
                moved = lifecycle.review(stored.identifier_key, verdict, reviewer, reason)
        except StateError as exc:
            return view(who, request_id, status=409, errors=[f"Not decided: {exc}."])
        signed_at = _now().replace(microsecond=0)
        recommended = docs.recommended_verdict(stored.decision)
        overturned = recommended is not None and verdict != recommended
        signer = Signer(who.reviewer.name, who.reviewer.credentials, claim_response(moved.answer).get("preAuthRef"),
                        signed_at=docs.signed_words(signed_at), reason=reason,
                        recommended=docs.recommendation_words(stored.decision) if overturned else None)
        try:
            pdf = docs.letter_pdf(docs.verdict_decision(recommendation, verdict), signer, date.today())
        except Exception as exc:  # the decision stands (answered, notified); say plainly that its letter is missing
            return view(who, request_id, status=500, errors=[
                f"Your decision is recorded and the provider answered ({', '.join(review_codes(moved.answer))}), but "
                f"its signed letter could not be made ({type(exc).__name__}: {exc}); no letter is stored for it."])
        records.store_letter(stored.id, claim_response(moved.answer)["id"], verdict, who.reviewer.name,
                             who.reviewer.credentials, reason, signed_at, pdf)
        return _to(f"/requests/{request_id}?signed={verdict}")

    @routes.post("/requests/{request_id}/decide")
    async def decide_post(request: Request, request_id: str):
        who, form, refusal = await posted(request)
        if refusal:
            return refusal
        return await run_in_threadpool(decide, who, request_id, form)

    return routes


def _pdf(body: bytes, filename: str) -> Response:
    return _headers(Response(body, media_type="application/pdf",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'}))

