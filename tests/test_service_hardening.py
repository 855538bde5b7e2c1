"""Issue 22, the service's part: no request can turn the server against its host.

Each test asks a real ``lemtrada-asp serve`` on 127.0.0.1 (tests.test_fhir_service's
helpers: a free loopback port, a new process group). The slow KB is the shipped KB
with a pigeonhole problem (13 pigeons, 12 holes) that only a case with
``hiv_positive: true`` grounds: clingo searches it for minutes in a few MB, so one
case can be made to run past any --timeout while every other case is decided as usual.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import httpx
import psutil
import pytest

from lemtrada_asp.case.pas.fhir_in import MAX_BUNDLE_ENTRIES
from lemtrada_asp.service.bench import start, stop
from lemtrada_asp.service.decision_log import read_log
from lemtrada_asp.service.limits import DECIDERS, HEADER_READ_TIMEOUT, SHUTDOWN_BOUND
from lemtrada_asp.service.soak import main as soak, slow_kb
from test_fhir_service import FHIR, JSON, PAS, bundle_bytes, is_json_error, is_outcome

TIMEOUT = 3  # the slow server's --timeout


def slow_case() -> dict:
    return {**json.loads((PAS / "approve-initial.case.json").read_text()), "hiv_positive": True}


def slow_bundle() -> dict:
    bundle = json.loads(bundle_bytes())
    bundle["entry"][8]["resource"]["item"][7]["answer"][0]["valueBoolean"] = True  # the HIV answer
    return bundle


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("slow")
    log = root / "decisions.jsonl"
    proc, url = start("--kb", str(slow_kb(root)), "--timeout", str(TIMEOUT), "--decision-log", str(log))
    yield url, log, proc
    assert stop(proc) == 0


def wait_for_idle_deciders(url: str, within: float = 30) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        health = httpx.get(url + "/healthz").json()
        if health["deciders"]["idle"] == DECIDERS:
            return health
        time.sleep(0.1)
    raise AssertionError(f"the deciders were not all idle again within {within} s: {health}")


def test_without_jwks_the_server_says_on_start_that_it_is_unauthenticated(slow_server):
    import select

    _, _, proc = slow_server
    said = b""
    while b"serving on" not in said and select.select([proc.stderr], [], [], 2)[0]:
        said += os.read(proc.stderr.fileno(), 65536)
    assert b"warning: unauthenticated: anyone who can reach 127.0.0.1:" in said and b"serving on" in said


# --- finding 1: a network input is a JSON object, never a path ------------------------------

CASE_FILE = str(PAS / "approve-initial.case.json")
BUNDLE_FILE = str(PAS / "approve-initial.bundle.json")
HOSTILE = {"root": "/", "stdin": "-", "case file": CASE_FILE, "bundle file": BUNDLE_FILE,
           "array": [1], "number": 12, "null": None}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_v1_decide_of_a_body_that_is_not_an_object_is_400_invalid_input_and_decides_nothing(slow_server, body):
    url, log, _ = slow_server
    before = len(read_log(str(log)))
    started = time.monotonic()
    r = httpx.post(url + "/v1/decide", content=json.dumps(body), headers=JSON, timeout=20)
    assert time.monotonic() - started < 5  # "/" walked the file system, "-" read stdin forever
    error = is_json_error(r, 400)
    assert error["error"] == "invalid_input" and error["case_id"] is None
    assert error["problems"][0]["message"].startswith("expected a JSON object (one case), got ")
    assert len(read_log(str(log))) == before


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_submit_of_a_body_that_is_not_an_object_is_400_operation_outcome(slow_server, body):
    url, log, _ = slow_server
    before = len(read_log(str(log)))
    [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=json.dumps(body), headers=FHIR, timeout=20), 400)
    assert issue["code"] == "structure" and "expected a Bundle resource" in issue["diagnostics"]
    assert len(read_log(str(log))) == before


def test_a_path_in_a_body_is_never_opened(slow_server, tmp_path):
    """A FIFO holding a case: opening it to read would block the server (and let a writer in)."""
    url, _, proc = slow_server
    fifo = tmp_path / "case.json"
    os.mkfifo(fifo)
    for path, body in (("/v1/decide", json.dumps(str(fifo))), ("/fhir/Claim/$submit", json.dumps(str(fifo)))):
        assert httpx.post(url + path, content=body, headers=JSON, timeout=10).status_code == 400
        with pytest.raises(OSError):  # ENXIO: nobody has the FIFO open for reading
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    server = psutil.Process(proc.pid)
    opened = {f.path for p in (server, *server.children(recursive=True)) for f in p.open_files()}
    assert str(fifo) not in opened and CASE_FILE not in opened


@pytest.fixture(scope="module")
def decider():
    from lemtrada_asp.service.decider import Decider

    return Decider()


@pytest.mark.parametrize("value, got", [("/", "a string"), ("-", "a string"), (CASE_FILE, "a string"),
                                        ([1], "an array"), (12, "a number"), (None, "null")],
                         ids=["root", "stdin", "file", "array", "number", "null"])
def test_the_services_entry_to_the_engine_takes_a_json_object_and_nothing_else(decider, value, got):
    from lemtrada_asp.service.app import CaseInvalid

    with pytest.raises(CaseInvalid) as refused:
        decider.decide(value)
    assert refused.value.problems == [("", f"expected a JSON object (one case), got {got}")]


# --- finding 2: every decision bounded; the others answered meanwhile ------------------------

@pytest.mark.parametrize("path", ["/fhir/Claim/$submit", "/v1/decide"])
def test_a_decision_past_the_timeout_is_503_naming_it_while_other_requests_are_answered(slow_server, path):
    url, log, _ = slow_server
    wait_for_idle_deciders(url)
    body = slow_bundle() if path.startswith("/fhir") else slow_case()
    slow: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: slow.append(httpx.post(url + path, json=body, timeout=60)))
    started = time.monotonic()
    sender.start()
    while (health := httpx.get(url + "/healthz")).json()["deciders"]["deciding"] == 0 and time.monotonic() - started < TIMEOUT:
        time.sleep(0.05)
    assert health.status_code == 200 and health.json()["status"] == "ok"  # truthful: one decider busy, the rest free
    assert health.json()["deciders"] == {"idle": DECIDERS - 1, "deciding": 1, "starting": 0}
    answered = [httpx.post(url + "/v1/decide", content=(PAS / "approve-initial.case.json").read_bytes(),
                           headers=JSON, timeout=TIMEOUT) for _ in range(5)]
    assert all(r.status_code == 200 and r.json()["decision"] == "approve" for r in answered)
    assert sender.is_alive()  # the ordinary cases were answered while the slow one was still running
    sender.join(60)
    elapsed = time.monotonic() - started
    assert TIMEOUT <= elapsed < TIMEOUT + 5
    [r] = slow
    if path.startswith("/fhir"):
        [issue] = is_outcome(r, 503)
        assert issue["code"] == "timeout" and f"--timeout {TIMEOUT} s" in issue["diagnostics"]
    else:
        error = is_json_error(r, 503)
        assert error["error"] == "time_limit" and f"--timeout {TIMEOUT} s" in error["message"]
    assert all(line["case"].get("hiv_positive") is not True for line in read_log(str(log)))  # never "decided"
    wait_for_idle_deciders(url)  # the killed decider was replaced


def deciders_of(proc) -> list[psutil.Process]:
    """The decider processes of a server (not multiprocessing's resource tracker)."""
    return [p for p in psutil.Process(proc.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]


def test_a_decider_killed_from_outside_is_replaced_and_no_request_fails(slow_server):
    url, _, proc = slow_server
    wait_for_idle_deciders(url)
    [victim, *_] = deciders_of(proc)
    victim.kill()
    deadline = time.monotonic() + 10
    while victim.is_running() and victim.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)  # dead, left for the server to reap when it next turns to it
    case = (PAS / "approve-initial.case.json").read_bytes()
    answers = [httpx.post(url + "/v1/decide", content=case, headers=JSON, timeout=30) for _ in range(4)]
    assert [r.status_code for r in answers] == [200] * 4
    assert wait_for_idle_deciders(url)["status"] == "ok"


@pytest.mark.slow
def test_a_decision_past_the_memory_bound_is_503_naming_it(tmp_path):
    kb = slow_kb(tmp_path, "\nslow_n(K,0) :- hiv_positive(K, true).\nslow_n(K,X+1) :- slow_n(K,X).\n")  # grounds forever
    proc, url = start("--kb", str(kb), "--memory", "400", "--timeout", "60")
    try:
        started = time.monotonic()
        error = is_json_error(httpx.post(url + "/v1/decide", json=slow_case(), timeout=90), 503)
        assert error["error"] == "memory_limit" and "--memory 400 MB" in error["message"]
        assert time.monotonic() - started < 60
        ok = httpx.post(url + "/v1/decide", content=(PAS / "approve-initial.case.json").read_bytes(), headers=JSON)
        assert ok.status_code == 200 and ok.json()["decision"] == "approve"
    finally:
        assert stop(proc) == 0


@pytest.mark.slow
def test_sigterm_during_a_long_decision_exits_0_within_the_bound_and_leaves_no_decider(tmp_path):
    proc, url = start("--kb", str(slow_kb(tmp_path)), "--timeout", "300")
    deciders = psutil.Process(proc.pid).children(recursive=True)  # the resource tracker too
    assert len(deciders_of(proc)) == DECIDERS
    threading.Thread(target=lambda: httpx.post(url + "/v1/decide", json=slow_case(), timeout=400), daemon=True).start()
    time.sleep(1)
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(SHUTDOWN_BOUND + 5) == 0
    assert time.monotonic() - started <= SHUTDOWN_BOUND + 2
    time.sleep(0.5)
    assert not [p for p in deciders if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


# --- finding 3: bounded requests ----------------------------------------------------------------

def test_a_bundle_of_millions_of_empty_entries_is_refused_by_the_entry_cap_quickly(slow_server):
    url, _, _ = slow_server
    body = b'{"resourceType":"Bundle","type":"collection","entry":[' + b",".join([b"{}"] * 3_300_000) + b"]}"
    assert len(body) < 10_000_000
    started = time.monotonic()
    [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=body, headers=FHIR, timeout=60), 400)
    assert issue["code"] == "too-costly" and issue["expression"] == ["Bundle.entry"]
    assert f"at most {MAX_BUNDLE_ENTRIES:,}" in issue["diagnostics"]
    assert time.monotonic() - started < 15


def test_an_entry_without_a_resource_is_refused_as_bdl_5(slow_server):
    url, _, _ = slow_server
    bundle = json.loads(bundle_bytes())
    bundle["entry"].append({"fullUrl": "urn:uuid:0b9c0c52-6a8f-4a66-bd53-0c9d3b1c2e77"})
    [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", json=bundle), 400)
    assert issue["code"] == "invariant" and issue["diagnostics"].startswith("bdl-5")
    assert issue["expression"] == [f"Bundle.entry[{len(bundle['entry']) - 1}]"]


def test_two_patients_with_one_full_url_are_refused_as_bdl_7_in_either_order(slow_server):
    """Finding 8: first-wins resolution let the order of the entries decide."""
    url, _, _ = slow_server
    bundle = json.loads(bundle_bytes())
    [(i, patient)] = [(i, e) for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Patient"]
    twin = json.loads(json.dumps(patient))
    twin["resource"]["id"] = "twin"
    twin["resource"]["birthDate"] = "1940-01-01"  # too old for the policy: the twin alone would not approve
    answers = []
    for entries in ([*bundle["entry"], twin], [*bundle["entry"][:i], twin, *bundle["entry"][i:]]):
        [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", json={**bundle, "entry": entries}), 400)
        assert issue["code"] == "invariant" and issue["diagnostics"].startswith("bdl-7")
        answers.append(issue["diagnostics"].split(":")[0])
    assert answers == ["bdl-7", "bdl-7"]


@pytest.mark.slow
def test_half_sent_request_heads_are_closed_after_the_header_timeout_and_others_answered(slow_server):
    url, _, _ = slow_server
    port = int(url.rsplit(":", 1)[1])
    loris = []
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")  # never ends
        loris.append(s)
    ok = httpx.post(url + "/v1/decide", content=(PAS / "approve-initial.case.json").read_bytes(), headers=JSON)
    assert ok.status_code == 200
    deadline = time.monotonic() + HEADER_READ_TIMEOUT + 5
    closed = 0
    for s in loris:
        s.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            closed += s.recv(100) == b""
        except (TimeoutError, socket.timeout):
            pass
        except ConnectionResetError:
            closed += 1
        s.close()
    assert closed == len(loris)


@pytest.mark.slow
def test_a_body_sent_too_slowly_is_408(slow_server):
    from lemtrada_asp.service.limits import BODY_READ_TIMEOUT

    url, _, _ = slow_server
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        s.settimeout(BODY_READ_TIMEOUT + 10)
        head = s.recv(1000)
    assert head.startswith(b"HTTP/1.1 408 ")


# --- finding 9: small ones ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/fhir/metadata/", "/healthz/", "/v1/decide/", "/fhir/Claim/$submit/"])
def test_a_trailing_slash_is_404_in_the_form_of_its_prefix_not_a_redirect(slow_server, path):
    url, _, _ = slow_server
    r = httpx.request("GET" if "decide" not in path and "submit" not in path else "POST", url + path,
                      content=b"{}", headers=JSON, follow_redirects=False)
    if path.startswith("/fhir/"):
        [issue] = is_outcome(r, 404)
        assert issue["code"] == "not-found"
    else:
        assert is_json_error(r, 404)["error"] == "not_found"


@pytest.mark.parametrize("method, path, allow", [("POST", "/fhir/metadata", "GET"), ("GET", "/v1/decide", "POST"),
                                                 ("DELETE", "/fhir/Claim/$submit", "POST")])
def test_405_names_the_allowed_methods(slow_server, method, path, allow):
    url, _, _ = slow_server
    r = httpx.request(method, url + path)
    assert r.status_code == 405 and r.headers["allow"] == allow


def test_docs_and_redoc_are_off_without_docs_and_nothing_names_a_cdn(slow_server):
    url, _, _ = slow_server
    assert httpx.get(url + "/docs").status_code == 404 and httpx.get(url + "/redoc").status_code == 404
    schema = httpx.get(url + "/openapi.json").text
    assert "cdn" not in schema.lower()


# --- the soak script, small ------------------------------------------------------------------

@pytest.mark.slow
def test_a_small_soak_holds_every_check(capsys):
    assert soak(["--requests", "200", "--concurrency", "8", "--big", "16", "--max-seconds", "300"]) == 0
    printed = capsys.readouterr().out
    assert "5xx (or no answer) other than timeouts: 0  [ok]" in printed and "soak: every check holds" in printed


@pytest.mark.slow
def test_a_kb_whose_analysis_runs_past_the_timeout_serves_its_questionnaire_without_enable_when_and_bounds_next_question(slow_server):
    """The Questionnaire's enableWhen and the adaptive form's next question are solves over the KB,
    run by the deciders like a decision: on a KB where they run long (the pigeonhole), the form is
    served with every question shown, and $next-question is a 503 naming the limit, never a hang."""
    from test_dtr_adaptive import first_response

    url, _, _ = slow_server
    wait_for_idle_deciders(url)
    started = time.monotonic()
    form = httpx.get(url + "/fhir/Questionnaire/lemtrada-pa", timeout=60)
    assert form.status_code == 200 and time.monotonic() - started < TIMEOUT + 5
    items = [i for top in form.json()["item"] for i in [top, *top.get("item", [])]]
    assert len(items) > 13 and not any("enableWhen" in i for i in items)
    opening = first_response(json.loads((PAS / "approve-initial.bundle.json").read_text()), form.json())
    # The form has asked about HIV and the answer is yes: the slow KB's pigeonhole is then to be solved.
    [asked] = [c for c in opening["contained"] if c["resourceType"] == "Questionnaire"]
    [hiv] = [i for i in form.json()["item"] if i["linkId"] == "hiv_positive"]
    asked["item"] = [{key: hiv[key] for key in ("linkId", "text", "type")}]
    opening["item"] = [{"linkId": "hiv_positive", "text": hiv["text"], "answer": [{"valueBoolean": True}]}]
    started = time.monotonic()
    r = httpx.post(url + "/fhir/Questionnaire/$next-question", json=opening, headers=FHIR, timeout=60)
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 5
    [issue] = is_outcome(r, 503)
    assert issue["code"] == "timeout" and f"--timeout {TIMEOUT} s" in issue["diagnostics"]
    assert httpx.get(url + "/healthz").json()["status"] == "ok"
