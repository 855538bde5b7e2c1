"""The PAS lifecycle through real servers on 127.0.0.1, on SQLite and on a real PostgreSQL.

submit (pend) -> subscriber notified -> $inquire -> update with the records ->
approve -> notified; the same Claim again is the same answer; an update that
cancels its line is not certified; two servers on one PostgreSQL given the same
Claim at once issue one authorisation. The subscriber is a real HTTP server the
test starts on 127.0.0.1.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from lemtrada_asp.case.pas import ids
from lemtrada_asp.service.bench import start, stop
from lemtrada_asp.service.pas.responses import TRACKING_SYSTEM
from lemtrada_asp.service.store import SQLITE_FILE, Store
from store_support import (Receiver, bundle, focus_states, identified, inquiry_of, key_of, postgres_database,
                           response_of, review_codes, subscription, update_of)

# Run with the slow step (.ci/run, `pytest -m slow`): each test starts servers with a store, and receivers for their notifications.
pytestmark = pytest.mark.slow


FHIR = {"content-type": "application/fhir+json"}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=BACKENDS)
def served(request):
    """(base URL, store) of one server on the back end; the store opened by the test to check what was stored."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            proc, url = start("--data-dir", tmp)
            database = f"sqlite:///{Path(tmp) / SQLITE_FILE}"
        else:
            database = stack.enter_context(postgres_database())
            proc, url = start("--database", database)
        store = Store(database.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            yield url, store
        finally:
            store.close()
            assert stop(proc) == 0


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, content=json.dumps(body), headers=FHIR, timeout=60)


def eventually(read, count: int, timeout: float = 10) -> list:
    """``read()`` once it has ``count`` rows (a delivery is recorded just after the subscriber has it)."""
    deadline = time.monotonic() + timeout
    rows = read()
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = read()
    return rows


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_pended_request_is_followed_up_to_approval_with_notifications_and_inquiry(served, receiver):
    url, store = served
    sub = post(url, "/fhir/Subscription", subscription(receiver.url, filters=("org-identifier=http://hl7.org/fhir/sid/us-npi|8189991234",)))
    assert sub.status_code == 201 and sub.json()["status"] == "active"

    first = identified(bundle("pend-information"), unique("TRN-pend"))
    pended = post(url, "/fhir/Claim/$submit", first).json()
    response = response_of(pended)
    assert review_codes(pended) == ["A4"] and "preAuthRef" not in response
    [tracking] = [i["value"] for i in response["identifier"] if i["system"] == TRACKING_SYSTEM]
    asks = [e for e in pended["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"]
    assert response["communicationRequest"] == [{"reference": e["fullUrl"]} for e in asks]
    missing = [m["valueCode"] for e in response["extension"] if e["url"] == ids.DECISION_EXT
               for m in e["extension"] if m["url"] == "missing"]
    # PAS's profile takes one payload a CommunicationRequest: one request per missing criterion, in order
    texts = [p["contentString"] for e in asks for p in e["resource"]["payload"]]
    assert missing and len(texts) == len(missing) and all(t.startswith(f"{m} ") for t, m in zip(texts, missing))
    assert all(ids.QUESTIONNAIRE_URL in t for t in texts)
    assert all(e["resource"]["about"][0]["reference"] == ids.QUESTIONNAIRE_URL and
               e["resource"]["identifier"][0]["value"] == tracking for e in asks)

    [note] = receiver.wait_for(1)
    assert focus_states(note) == ("1", "A4")

    inquiry = post(url, "/fhir/Claim/$inquire", inquiry_of(first)).json()
    assert review_codes(inquiry) == ["A4"] and response_of(inquiry)["id"] == response["id"]

    update = update_of(first, unique("TRN-update"))
    approved = post(url, "/fhir/Claim/$submit", update).json()
    assert review_codes(approved) == ["A1"] and response_of(approved)["preAuthRef"]

    notes = receiver.wait_for(3)
    assert sorted(focus_states(n) for n in notes[1:]) == [("2", "A1"), ("3", "A1")]  # the update's answer, the pend replaced

    now = post(url, "/fhir/Claim/$inquire", inquiry_of(first)).json()
    assert response_of(now)["preAuthRef"] == response_of(approved)["preAuthRef"]

    prior, current = store.find(key_of(first)), store.find(key_of(update))
    assert (prior.state, current.state) == ("replaced", "approved")
    assert [(h["from"], h["to"]) for h in store.history(prior.id)] == [("new", "pended"), ("pended", "replaced")]
    assert all(h["actor"] for h in store.history(prior.id))
    assert [a["status"] for a in store.authorisations(current.id)] == ["active"]
    sub_id = sub.json()["id"]
    assert [d["ok"] for d in eventually(lambda: store.deliveries(sub_id), 3)] == [True, True, True]


def test_the_same_claim_again_gets_the_same_answer_and_never_a_second_authorisation(served):
    url, store = served
    b = identified(bundle("approve-initial"), unique("TRN-again"))
    answers = [post(url, "/fhir/Claim/$submit", b).json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    ref = response_of(answers[0])["preAuthRef"]
    stored = store.find(key_of(b))
    assert [a["pre_auth_ref"] for a in store.authorisations(stored.id)] == [ref]


def test_an_update_that_cancels_its_line_is_not_certified_and_cancels_the_authorisation(served):
    url, store = served
    first = identified(bundle("approve-initial"), unique("TRN-cancel"))
    approved = post(url, "/fhir/Claim/$submit", first).json()
    assert review_codes(approved) == ["A1"]
    cancelled = post(url, "/fhir/Claim/$submit", update_of(first, unique("TRN-cancel-upd"), records=False, cancel=True)).json()
    response = response_of(cancelled)
    assert review_codes(cancelled) == ["C"]
    assert "preAuthRef" not in response and "preAuthPeriod" not in response
    assert all(e["url"] not in (ids.ITEM_AUTHORIZED_DETAIL, ids.ITEM_PERIOD) for i in response["item"] for e in i.get("extension", []))
    prior = store.find(key_of(first))
    assert prior.state == "cancelled"
    assert [a["status"] for a in store.authorisations(prior.id)] == ["cancelled"]


def test_an_update_naming_no_stored_request_is_a_business_error(served):
    url, store = served
    orphan = update_of(identified(bundle("pend-information"), unique("TRN-never-sent")), unique("TRN-orphan"))
    r = post(url, "/fhir/Claim/$submit", orphan)
    assert r.status_code == 200
    response = response_of(r.json())
    assert response["outcome"] == "error" and "names no stored request" in response["disposition"]
    assert [c["code"] for e in response["error"] for c in e["code"]["coding"]] == ["AA"]  # X12 901: authorisation not found
    assert store.find(key_of(orphan)).state == "error"


def test_an_inquiry_for_an_unknown_request_says_so_and_a_non_bundle_is_refused(served):
    url, _ = served
    unknown = inquiry_of(identified(bundle("approve-initial"), unique("TRN-unknown")))
    answer = post(url, "/fhir/Claim/$inquire", unknown).json()
    assert response_of(answer)["outcome"] == "error"
    refused = post(url, "/fhir/Claim/$inquire", {"resourceType": "Patient"})
    assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"


def test_a_subscription_to_another_topic_or_channel_is_refused(served):
    url, _ = served
    wrong_topic = {**subscription("http://127.0.0.1:9/x"), "criteria": "http://example.org/SubscriptionTopic/other"}
    r = post(url, "/fhir/Subscription", wrong_topic)
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["Subscription.criteria"]
    email = subscription("http://127.0.0.1:9/x")
    email["channel"]["type"] = "email"
    assert post(url, "/fhir/Subscription", email).status_code == 400


def test_a_failing_subscriber_is_retried_with_back_off_and_every_attempt_is_recorded(served):
    url, store = served
    flaky = Receiver(fail=2)
    try:
        sub = post(url, "/fhir/Subscription", subscription(flaky.url, content="id-only")).json()
        post(url, "/fhir/Claim/$submit", identified(bundle("pend-information"), unique("TRN-flaky")))
        [note] = flaky.wait_for(1)
        assert flaky.statuses[:3] == [500, 500, 200]
        assert len(note["entry"]) == 2 and "resource" not in note["entry"][1]  # id-only: the focus, not the resource
        focus = note["entry"][1]["request"]["url"]
        read = httpx.get(f"{url}/fhir/{focus}")
        assert read.status_code == 200 and review_codes({"entry": [{"resource": read.json()}]}) == ["A4"]
        attempts = eventually(lambda: [(d["attempt"], d["ok"], d["status_code"]) for d in store.deliveries(sub["id"])], 3)
        assert attempts[:3] == [(1, False, 500), (2, False, 500), (3, True, 200)]
    finally:
        flaky.close()


@pytest.mark.slow
def test_two_servers_on_one_postgresql_given_the_same_claim_at_once_issue_one_authorisation():
    with postgres_database() as database:
        servers = [start("--database", database) for _ in range(2)]
        try:
            store = Store(database.replace("postgresql://", "postgresql+psycopg://", 1))
            for round_ in range(3):
                b = json.dumps(identified(bundle("approve-initial"), unique(f"TRN-race{round_}")))
                barrier = threading.Barrier(8)
                answers: list[dict] = []

                def send(base: str) -> None:
                    barrier.wait()
                    r = httpx.post(base + "/fhir/Claim/$submit", content=b, headers=FHIR, timeout=120)
                    answers.append(r.json())

                threads = [threading.Thread(target=send, args=(servers[i % 2][1],)) for i in range(8)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                refs = {response_of(a)["preAuthRef"] for a in answers}
                assert len(answers) == 8 and len(refs) == 1
                stored = store.find(key_of(json.loads(b)))
                assert [a["pre_auth_ref"] for a in store.authorisations(stored.id)] == list(refs)
            assert store.count_requests() == 3
            store.close()
        finally:
            for proc, _ in servers:
                assert stop(proc) == 0


@pytest.mark.slow  # a server of its own: about 10 s on a loaded machine
def test_serve_with_no_options_stores_in_the_per_user_data_directory(tmp_path):
    proc, url = start(env={"XDG_DATA_HOME": str(tmp_path)})
    try:
        b = identified(bundle("approve-initial"), unique("TRN-default"))
        assert review_codes(post(url, "/fhir/Claim/$submit", b).json()) == ["A1"]
    finally:
        assert stop(proc) == 0
    path = tmp_path / "lemtrada-asp" / SQLITE_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    store = Store(f"sqlite:///{path}")
    assert store.find(key_of(b)).state == "approved"
    store.close()


@pytest.mark.slow  # a server of its own: about 10 s on a loaded machine
def test_every_move_is_in_the_decision_log_with_who_made_it(tmp_path):
    from lemtrada_asp.service.decision_log import read_log

    log = tmp_path / "decisions.jsonl"
    proc, url = start("--data-dir", str(tmp_path / "data"), "--decision-log", str(log))  # bodies not kept: moves are
    try:
        first = identified(bundle("pend-information"), unique("TRN-log"))
        update = update_of(first, unique("TRN-log-upd"))
        post(url, "/fhir/Claim/$submit", first)
        post(url, "/fhir/Claim/$submit", update)
    finally:
        assert stop(proc) == 0
    moves = [(line["move"]["request"], line["move"]["from"], line["move"]["to"], line["move"]["actor"])
             for line in read_log(str(log)) if line["endpoint"] == "lifecycle/state"]
    engine = "lemtrada-asp decision engine"
    assert moves == [(key_of(first), "new", "pended", engine), (key_of(update), "new", "approved", engine),
                     (key_of(first), "pended", "replaced", engine)]


def test_an_update_may_name_its_prior_claim_by_a_reference_to_it_in_the_bundle(served):
    """PAS Claim-update: ``related.claim`` references the prior Claim, included in the update Bundle."""
    import copy

    url, store = served
    first = identified(bundle("pend-information"), unique("TRN-ref"))
    post(url, "/fhir/Claim/$submit", first)
    update = update_of(first, unique("TRN-ref-upd"))
    prior = copy.deepcopy(first["entry"][0])
    prior["fullUrl"] = f"urn:uuid:{uuid.uuid4()}"
    prior["resource"]["id"] += "-prior"  # two Claims of one id in a Bundle are refused: a reference must not depend on order
    update["entry"].append(prior)
    update["entry"][0]["resource"]["related"][0]["claim"] = {"reference": prior["fullUrl"]}
    assert review_codes(post(url, "/fhir/Claim/$submit", update).json()) == ["A1"]
    assert store.find(key_of(first)).state == "replaced"


def test_the_capability_statement_lists_inquire_and_subscription_besides_submit(served):
    url, _ = served
    rest = httpx.get(url + "/fhir/metadata").json()["rest"][0]
    resources = {r["type"]: r for r in rest["resource"]}
    assert [o["name"] for o in resources["Claim"]["operation"]] == ["submit", "inquire"]
    assert resources["Claim"]["operation"][1]["definition"] == "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry"
    assert {i["code"] for i in resources["Subscription"]["interaction"]} == {"create", "read"}


def test_a_database_that_cannot_be_reached_stops_serve_before_listening_with_exit_2():
    import subprocess
    import sys

    from lemtrada_asp.service.bench import free_port

    done = subprocess.run([sys.executable, "-m", "lemtrada_asp", "serve", "--port", str(free_port()),
                           "--database", "postgresql://nobody:hunter2@127.0.0.1:9/none?connect_timeout=2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "cannot be opened or migrated" in done.stderr and "hunter2" not in done.stderr
    assert "serving on" not in done.stderr and "Traceback" not in done.stderr
