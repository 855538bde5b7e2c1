"""The review desk through a real ``serve`` on 127.0.0.1: its guards over httpx, its work in Debian's Chromium.

Without a browser: every desk URL refuses a request without a session, a form
without the session's CSRF token (or from another origin) is refused, a reviewer
cannot act as another, repeated failed sign-ins lock an account, the cookies carry
their flags, the queue shows each request's clock from the line-of-business data.
In Chromium (slow): a reviewer signs in, opens the queue and a denial-recommended
request, sees its tree and signs a denial -- then $inquire answers A3 with
wasHumanReviewedFlag true and a subscriber (a tiny HTTP server the test starts)
is notified; also an overturn to approval and a request for more records. The
browser test writes screenshots of the queue and of a request to tests/screenshots/.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from lemtrada_asp.notices import lob
from lemtrada_asp.service.bench import start, stop
from lemtrada_asp.service.desk.auth import LOCK_AFTER_FAILURES, LOCK_MINUTES, SESSION_COOKIE, hash_password
from lemtrada_asp.service.desk.routes import PREFIX, router
from lemtrada_asp.service.store import SQLITE_FILE, Store
from lemtrada_asp.service.store.desk import DeskRecords
from test_pictures import browser, screenshot  # noqa: F401  (Debian's Chromium as the picture tests drive it)
from store_support import (Receiver, bundle, claim, identified, inquiry_of, key_of, postgres_database, response_of,
                           review_codes, subscription)

# Run with the slow step (.ci/run, `pytest -m slow`): each test starts a server with a store and signs reviewers in (Argon2).
pytestmark = pytest.mark.slow


FHIR = {"content-type": "application/fhir+json"}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
PASSWORD = "correct horse battery"
REVIEWERS = {"Dr Ada Lee": "MD, neurology", "Dr Ben Ode": "DO, neurology", "Dr Cy Locke": "MD, internal medicine"}


def add_reviewer(store_args: list[str], name: str, credentials: str,
                 password: str = PASSWORD) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lemtrada_asp", "reviewer", "add", name, "--credentials", credentials,
                           *store_args, "--password-stdin"], input=password + "\n", text=True,
                          capture_output=True, timeout=120)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def submit(url: str, b: dict) -> dict:
    r = httpx.post(url + "/fhir/Claim/$submit", content=json.dumps(b), headers=FHIR, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def inquire(url: str, b: dict) -> dict:
    r = httpx.post(url + "/fhir/Claim/$inquire", content=json.dumps(inquiry_of(b)), headers=FHIR, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def human_reviewed(answer: dict) -> bool:
    return [e["valueBoolean"] for ext in response_of(answer)["extension"] for e in ext.get("extension", [])
            if e.get("url") == "wasHumanReviewedFlag"] == [True]


@pytest.fixture(scope="module", params=BACKENDS)
def desk(request):
    """A server with its own store (SQLite, or a new database on the test PostgreSQL) and three reviewers."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            store_args, database = ["--data-dir", data_dir], f"sqlite:///{Path(data_dir) / SQLITE_FILE}"
        else:
            database = stack.enter_context(postgres_database())
            store_args = ["--database", database]
        (first, credentials), *others = REVIEWERS.items()
        added = add_reviewer(store_args, first, credentials)  # as an administrator would: the command
        assert added.returncode == 0 and f"reviewer {first} ({credentials}) added" in added.stdout, added.stderr
        proc, url = start(*store_args)
        store = Store(database.replace("postgresql://", "postgresql+psycopg://", 1))
        for name, credentials in others:  # the same, without a process each
            DeskRecords(store).add_reviewer(name, credentials, hash_password(PASSWORD))
        try:
            yield SimpleNamespace(url=url, store=store, store_args=store_args, records=DeskRecords(store))
        finally:
            store.close()
            assert stop(proc) == 0


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(url: str, name: str, password: str = PASSWORD, **client) -> tuple[httpx.Client, str]:
    """A client with a session of ``name``, and the session's CSRF token (read off the queue page)."""
    c = httpx.Client(base_url=url, timeout=60, **client)
    token = csrf_of(c.get(f"{PREFIX}/sign-in").text)
    r = c.post(f"{PREFIX}/sign-in", data={"name": name, "password": password, "csrf": token})
    assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/queue", r.text
    queue = c.get(f"{PREFIX}/queue")
    assert queue.status_code == 200
    return c, csrf_of(queue.text)


def pended_request(desk, fixture: str = "pend-information", priority: str | None = None) -> tuple[dict, str]:
    """A new pended request of ``fixture``; (its Bundle, its stored id)."""
    b = identified(bundle(fixture), unique("TRN-desk"))
    if priority:
        claim(b)["priority"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                            "code": priority}]}
    assert review_codes(submit(desk.url, b)) == ["A4"]
    return b, desk.store.find(key_of(b)).id


def desk_paths(request_id: str) -> list[tuple[str, str]]:
    """(method, path) of every route of the desk's router, its parameters filled in."""
    out = []
    for route in router(SimpleNamespace(store=None), None, None).routes:
        path = route.path.replace("{request_id}", request_id).replace("{letter_id}", "1")
        out += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return out


def test_every_desk_url_without_a_session_is_refused(desk):
    b, request_id = pended_request(desk)
    paths = desk_paths(request_id)
    assert len(paths) >= 9 and any(p.endswith("/decide") for _, p in paths)
    case_id = claim(b)["id"]
    for cookies in ({}, {SESSION_COOKIE: "forged-" + uuid.uuid4().hex}):
        c = httpx.Client(base_url=desk.url, timeout=60, cookies=cookies)
        for method, path in paths:
            if path in (f"{PREFIX}/sign-in",):
                continue  # the one page open to all (tested below: it shows a form and nothing else)
            r = c.request(method, path, data={"verdict": "deny", "reason": "x", "attest": "yes"})
            if method == "GET":
                assert r.status_code == 303 and r.headers["location"] == f"{PREFIX}/sign-in", (method, path)
            else:
                assert r.status_code == 403, (method, path)
            assert request_id not in r.text and case_id not in r.text and "%PDF" not in r.text
    page = httpx.get(desk.url + f"{PREFIX}/sign-in")
    assert page.status_code == 200 and 'type="password"' in page.text and request_id not in page.text
    assert desk.store.find(key_of(b)).state == "pended"


def test_a_forged_form_without_the_session_csrf_token_is_refused(desk):
    b, request_id = pended_request(desk)
    c, token = signed_in(desk.url, "Dr Ada Lee")
    form = {"verdict": "records", "reason": "please send the MRI report", "attest": "yes"}
    assert c.post(f"{PREFIX}/requests/{request_id}/decide", data=form).status_code == 403
    assert c.post(f"{PREFIX}/requests/{request_id}/decide", data={**form, "csrf": "x" + token[1:]}).status_code == 403
    foreign = c.post(f"{PREFIX}/requests/{request_id}/decide", data={**form, "csrf": token},
                     headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert c.post(f"{PREFIX}/sign-out", data={}).status_code == 403
    assert [h["to"] for h in desk.store.history(request_id)] == ["pended"]  # nothing moved
    # the sign-in form has its own token: without the cookie that matches it, no sign-in
    bare = httpx.post(desk.url + f"{PREFIX}/sign-in", data={"name": "Dr Ada Lee", "password": PASSWORD, "csrf": "made-up"})
    assert bare.status_code == 403 and SESSION_COOKIE + "=" not in bare.headers.get("set-cookie", "")
    # a form without a reason (or an unticked signature box) is not signed, and says why
    missing = c.post(f"{PREFIX}/requests/{request_id}/decide", data={"verdict": "deny", "reason": "  ", "csrf": token})
    assert missing.status_code == 400 and "Give the reason" in missing.text and "Tick the box" in missing.text
    assert [h["to"] for h in desk.store.history(request_id)] == ["pended"]
    # and with the token, the same form is taken
    ok = c.post(f"{PREFIX}/requests/{request_id}/decide", data={**form, "csrf": token})
    assert ok.status_code == 303
    assert [h["to"] for h in desk.store.history(request_id)] == ["pended", "pended"]


def test_a_reviewer_cannot_act_as_another(desk):
    b, request_id = pended_request(desk)
    ada, ada_token = signed_in(desk.url, "Dr Ada Lee")
    ben, ben_token = signed_in(desk.url, "Dr Ben Ode")
    form = {"verdict": "records", "reason": "send the chart note of the last relapse", "attest": "yes"}
    # Ada's session with Ben's token (a form lifted from Ben's page): refused
    assert ada.post(f"{PREFIX}/requests/{request_id}/decide", data={**form, "csrf": ben_token}).status_code == 403
    # a form naming Ben as the reviewer or actor is Ada's all the same
    r = ada.post(f"{PREFIX}/requests/{request_id}/decide",
                 data={**form, "csrf": ada_token, "reviewer": "Dr Ben Ode", "actor": "reviewer Dr Ben Ode"})
    assert r.status_code == 303
    move = desk.store.history(request_id)[-1]
    assert move["actor"] == "reviewer Dr Ada Lee, MD, neurology" and move["reason"] == form["reason"]
    [letter] = desk.records.letters(request_id)
    assert (letter["reviewer"], letter["credentials"]) == ("Dr Ada Lee", "MD, neurology")
    asked = ben.get(f"{PREFIX}/queue", params={"reason": "records_asked"}).text  # it waits for the records now
    assert f'data-request="{request_id}" data-reason="records_asked"' in asked
    page = ben.get(f"{PREFIX}/requests/{request_id}")
    assert "Signed in as <strong>Dr Ben Ode</strong>" in page.text and "Dr Ada Lee, MD, neurology" in page.text


def test_a_request_another_reviewer_decided_first_is_not_decided_again(desk):
    b, request_id = pended_request(desk, "deny-step-therapy")
    ada, ada_token = signed_in(desk.url, "Dr Ada Lee")
    ben, ben_token = signed_in(desk.url, "Dr Ben Ode")
    ben_page = ben.get(f"{PREFIX}/requests/{request_id}")  # Ben opens it while it is pended ...
    assert 'id="sign"' in ben_page.text
    first = ada.post(f"{PREFIX}/requests/{request_id}/decide",  # ... Ada signs a denial first ...
                     data={"verdict": "deny", "reason": "step therapy not met", "attest": "yes", "csrf": ada_token})
    assert first.status_code == 303
    late = ben.post(f"{PREFIX}/requests/{request_id}/decide",  # ... and Ben's approval comes too late
                    data={"verdict": "approve", "reason": "overturn", "attest": "yes", "csrf": ben_token})
    assert late.status_code == 409 and "not pended" in late.text
    assert desk.store.find(key_of(b)).state == "denied" and review_codes(inquire(desk.url, b)) == ["A3"]
    assert [(l["verdict"], l["reviewer"]) for l in desk.records.letters(request_id)] == [("deny", "Dr Ada Lee")]


def test_repeated_failed_sign_ins_lock_the_account(desk):
    name = "Dr Cy Locke"
    c = httpx.Client(base_url=desk.url, timeout=60)
    for _ in range(LOCK_AFTER_FAILURES):
        token = csrf_of(c.get(f"{PREFIX}/sign-in").text)
        r = c.post(f"{PREFIX}/sign-in", data={"name": name, "password": "not the password", "csrf": token})
        assert r.status_code == 401 and f"locked for {LOCK_MINUTES} minutes" in r.text
    token = csrf_of(c.get(f"{PREFIX}/sign-in").text)
    r = c.post(f"{PREFIX}/sign-in", data={"name": name, "password": PASSWORD, "csrf": token})
    assert r.status_code == 401 and SESSION_COOKIE + "=" not in r.headers.get("set-cookie", "")  # the right password, locked
    locked = desk.records.reviewer(name).locked_until
    assert locked is not None
    # an unknown name is answered the same way, so the message tells nothing of who has an account
    token = csrf_of(c.get(f"{PREFIX}/sign-in").text)
    r = c.post(f"{PREFIX}/sign-in", data={"name": "Nobody", "password": PASSWORD, "csrf": token})
    assert r.status_code == 401


def test_session_cookies_are_httponly_samesite_strict_and_secure_off_loopback(desk):
    c = httpx.Client(base_url=desk.url, timeout=60)
    token = csrf_of(c.get(f"{PREFIX}/sign-in").text)
    r = c.post(f"{PREFIX}/sign-in", data={"name": "Dr Ben Ode", "password": PASSWORD, "csrf": token})
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE + "="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", f"path={PREFIX}"} <= flags and "secure" not in flags  # http on 127.0.0.1
    # the same server reached under another name (as behind a proxy): the cookies are Secure
    other = httpx.Client(base_url=desk.url, timeout=60, headers={"host": "desk.example"})
    page = other.get(f"{PREFIX}/sign-in")
    assert "secure" in page.headers["set-cookie"].lower()
    policy = page.headers["content-security-policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy  # no script runs at all


def test_the_queue_lists_pended_requests_oldest_first_with_the_clock_of_their_plan_type(desk):
    _, standard = pended_request(desk)
    _, expedited = pended_request(desk, "deny-step-therapy", priority="stat")
    c, _ = signed_in(desk.url, "Dr Ben Ode")
    page = c.get(f"{PREFIX}/queue").text
    rows = re.findall(r'<tr class="reason-\w+" data-request="([^"]+)" data-reason="(\w+)">(.*?)</tr>', page, re.S)
    order = [r[0] for r in rows]
    assert order.index(standard) < order.index(expedited)  # oldest first
    received = [q.received_at for q in desk.records.pended()]
    assert received == sorted(received) and [q.stored.id for q in desk.records.pended()] == order
    rules = lob.select(None)  # the fixtures say no line of business: the default file
    cells = {r[0]: (r[1], r[2]) for r in rows}
    assert cells[standard][0] == "information" and cells[expedited][0] == "denial_recommended"
    assert f"standard: {rules.initial_decision.standard.words()}" in cells[standard][1]
    assert f"expedited: {rules.initial_decision.expedited.words()}" in cells[expedited][1]
    assert rules.initial_decision.expedited.source.cite in cells[expedited][1]
    only = c.get(f"{PREFIX}/queue", params={"reason": "denial_recommended"}).text
    shown = set(re.findall(r'data-reason="(\w+)"', only))
    assert shown == {"denial_recommended"} and expedited in only and standard not in only


def test_a_request_runs_on_its_line_of_business_decision_time_and_an_expedited_one_on_the_shorter(desk):
    from datetime import datetime, timedelta

    from lemtrada_asp.service.desk.queue import clock_of
    from lemtrada_asp.service.store.desk import Queued

    b, request_id = pended_request(desk)
    stored = desk.store.find(key_of(b))
    received = datetime(2026, 12, 1, 9, 0)
    for line_of_business in lob.ids():
        rules = lob.select(line_of_business)
        case = {**stored.case, "coverage": {"line_of_business": line_of_business}}
        for priority, kind in (("normal", "standard"), ("stat", "expedited")):
            bundled = json.loads(json.dumps(stored.bundle))
            claim(bundled)["priority"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                                      "code": priority}]}
            clock = clock_of(Queued(stored.__class__(**{**stored.__dict__, "case": case, "bundle": bundled}), received))
            duration = getattr(rules.initial_decision, kind)
            span = timedelta(hours=duration.amount) if duration.unit == "hours" else timedelta(days=duration.amount)
            assert (clock.kind, clock.key, clock.words) == (kind, f"initial_decision.{kind}", duration.words())
            assert clock.due == received + span and clock.cite == duration.source.cite
    medicaid = lob.select("medicaid").initial_decision  # CMS-0057-F: 7 days standard, 72 hours expedited
    assert (medicaid.standard.words(), medicaid.expedited.words()) == ("7 days", "72 hours")


def test_one_request_shows_its_tree_corrections_documents_and_draft_letter(desk):
    b, request_id = pended_request(desk, "deny-step-therapy")
    c, _ = signed_in(desk.url, "Dr Ben Ode")
    page = c.get(f"{PREFIX}/requests/{request_id}").text
    decision = desk.store.find(key_of(b)).decision
    for failed in decision["failed"]:  # each criterion the recommendation names, drawn not met in the tree
        assert f'data-id="{failed["id"]}" data-status="{failed["status"]}"' in page
    assert "What would change the decision" in page  # the minimal corrections, under the tree
    qr = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")

    def answers(items):
        for item in items:
            for a in item.get("answer", []):
                coding = a.get("valueCoding")
                yield (coding.get("display") or coding["code"]) if coding else str(next(
                    v for k, v in a.items() if k.startswith("value"))).lower()
            yield from answers(item.get("item", []))

    documents = page.split('id="documents"', 1)[1].split('id="letter"', 1)[0]
    sent = list(answers(qr["item"]))
    assert sent and all(f"<td>{value}</td>" in documents for value in sent)
    letter = c.get(f"{PREFIX}/requests/{request_id}/letter")
    assert letter.status_code == 200 and "DRAFT - NOT YET SIGNED" in letter.text and "We cannot approve" in letter.text
    pdf = c.get(f"{PREFIX}/requests/{request_id}/letter.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and "attachment" in pdf.headers["content-disposition"]
    assert "We cannot approve Lemtrada" in " ".join(pdf_text(pdf.content).split())


def test_reviewer_add_refuses_a_taken_name_and_a_short_password(desk):
    taken = add_reviewer(desk.store_args, "Dr Ada Lee", "MD")
    assert taken.returncode == 2 and "already exists" in taken.stderr
    short = add_reviewer(desk.store_args, "Dr New", "MD", password="short")
    assert short.returncode == 2 and "at least" in short.stderr and desk.records.reviewer("Dr New") is None
    # without --password-stdin the command asks twice, without echo
    from click.testing import CliRunner

    from lemtrada_asp.cli import main

    typed = "a long enough password"
    result = CliRunner().invoke(main, ["reviewer", "add", "Dr Prompted", "--credentials", "NP, neurology",
                                       *desk.store_args], input=f"{typed}\n{typed}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password for Dr Prompted") == 1 and "Repeat for confirmation" in result.output
    assert typed not in result.output
    c, _ = signed_in(desk.url, "Dr Prompted", typed)
    assert "Signed in as <strong>Dr Prompted</strong> (NP, neurology)" in c.get(f"{PREFIX}/queue").text


# --- in a real browser ---------------------------------------------------------------------


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return " ".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.slow
def test_a_reviewer_signs_decisions_in_chromium_and_the_provider_hears_at_once(desk, receiver, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def arrived(part: str) -> None:
        """Wait for the page a click asked for (a click returns before the next page has loaded)."""
        WebDriverWait(browser, 60).until(lambda d: part in d.current_url and d.execute_script(
            "return document.readyState") == "complete")

    sub = httpx.post(desk.url + "/fhir/Subscription", content=json.dumps(subscription(receiver.url)), headers=FHIR,
                     timeout=60)
    assert sub.status_code == 201
    denial = identified(bundle("deny-step-therapy"), unique("TRN-deny"))
    overturn = identified(bundle("deny-step-therapy"), unique("TRN-overturn"))
    records = identified(bundle("pend-information"), unique("TRN-records"))
    third = identified(bundle("third-course"), unique("TRN-third"))  # a case-by-case pend, so the queue shows each kind
    for b in (denial, overturn, records, third):
        assert review_codes(submit(desk.url, b)) == ["A4"]
    seen = len(receiver.wait_for(4))

    driver = browser
    driver.get(desk.url + f"{PREFIX}/queue")
    assert driver.current_url.endswith(f"{PREFIX}/sign-in")  # not signed in: the sign-in page
    screenshot(driver, "desk-sign-in", height=700)
    driver.find_element(By.ID, "name").send_keys("Dr Ada Lee")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    arrived(f"{PREFIX}/queue")
    assert driver.current_url.endswith(f"{PREFIX}/queue"), driver.find_element(By.TAG_NAME, "main").text
    assert "Signed in as Dr Ada Lee" in driver.find_element(By.ID, "who").text
    screenshot(driver, "desk-queue")  # every pended request, every reason
    Select(driver.find_element(By.ID, "reason")).select_by_value("denial_recommended")
    driver.find_element(By.CSS_SELECTOR, "form.filter button").click()
    arrived("reason=denial_recommended")
    reasons = {r.get_attribute("data-reason") for r in driver.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")}
    assert reasons == {"denial_recommended"}
    screenshot(driver, "desk-queue-filtered")

    def open_request(b: dict) -> None:
        driver.get(desk.url + f"{PREFIX}/queue")
        row = driver.find_element(By.XPATH, f"//tr[.//span[@title='{key_of(b)}']]")
        row.find_element(By.TAG_NAME, "a").click()
        arrived(f"{PREFIX}/requests/")
        assert driver.find_element(By.TAG_NAME, "h1").text == f"Request {claim(b)['id']}"

    def sign(verdict: str, reason: str) -> None:
        driver.find_element(By.ID, f"verdict-{verdict}").click()
        driver.find_element(By.ID, "reason").send_keys(reason)
        driver.find_element(By.ID, "attest").click()
        driver.find_element(By.ID, "sign").click()
        arrived(f"?signed={verdict}")

    # a denial the program recommends: its tree, then signed
    open_request(denial)
    failing = driver.find_elements(By.CSS_SELECTOR, "section.explanation li.node[data-status=not_met]")
    assert failing and "not met" in failing[0].find_element(By.CSS_SELECTOR, ".status").text
    assert driver.find_element(By.ID, "recommendation").text == "denial recommended"
    assert driver.find_element(By.ID, "clock").text.startswith("standard: ")
    assert driver.find_element(By.CSS_SELECTOR, "iframe.letter").get_attribute("title").startswith("Draft letter")
    screenshot(driver, "desk-request")
    sign("deny", "Step therapy is not met: the member has four effective DMTs on record.")
    answer = driver.find_element(By.ID, "answer")
    assert answer.get_attribute("data-codes") == "A3" and answer.get_attribute("data-reviewed") == "true"
    assert driver.find_element(By.ID, "signed-notice").text.startswith("Signed: deny, by Dr Ada Lee (MD, neurology)")
    screenshot(driver, "desk-signed", height=1000)
    now = inquire(desk.url, denial)
    assert review_codes(now) == ["A3"] and human_reviewed(now)
    assert "decided by the clinical reviewer Dr Ada Lee, MD, neurology" in response_of(now)["disposition"]

    # an overturn: the reviewer approves what the program would deny
    open_request(overturn)
    sign("approve", "Peer-to-peer call: natalizumab was stopped for JCV risk; step therapy satisfied.")
    approved = inquire(desk.url, overturn)
    assert review_codes(approved) == ["A1"] and human_reviewed(approved) and response_of(approved)["preAuthRef"]

    # more records: the request stays pended, the provider is told what to send
    open_request(records)
    sign("records", "Send the neurologist's note of the last two relapses.")
    pended = inquire(desk.url, records)
    assert review_codes(pended) == ["A4"] and human_reviewed(pended)
    asks = [p["contentString"] for e in pended["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"
            for p in e["resource"]["payload"]]
    # one CommunicationRequest a thing asked (PAS: one payload each), the reviewer's words first
    assert any(a.startswith("Asked by the clinical reviewer: Send the neurologist's note of the last two relapses.")
               for a in asks)

    notes = receiver.wait_for(seen + 3)[seen:]
    heard = sorted(review_codes({"entry": [n["entry"][1]]})[0] for n in notes)
    assert heard == ["A1", "A3", "A4"]
    assert all(human_reviewed({"entry": [n["entry"][1]]}) for n in notes)

    for b, verdict, words in ((denial, "deny", "We cannot approve Lemtrada"), (overturn, "approve", "We approved Lemtrada"),
                              (records, "records", "more information")):
        stored = desk.store.find(key_of(b))
        [letter] = desk.records.letters(stored.id)
        assert (letter["verdict"], letter["reviewer"]) == (verdict, "Dr Ada Lee")
        text = " ".join(pdf_text(desk.records.letter_pdf(stored.id, letter["id"])).split())
        assert words in text and "Dr Ada Lee" in text and "MD, neurology" in text and "DRAFT" not in text
        assert letter["signed_at"].strftime("%H:%M UTC") in text
    overturned = desk.store.find(key_of(overturn))
    text = " ".join(pdf_text(desk.records.letter_pdf(overturned.id, desk.records.letters(overturned.id)[0]["id"])).split())
    assert "changed the program's recommendation (denial recommended)" in text
    assert response_of(inquire(desk.url, overturn))["preAuthRef"] in text
