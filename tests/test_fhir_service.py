"""The service through a real server: ``lemtrada-asp serve`` in a subprocess on 127.0.0.1.

Every endpoint and error path of fhir-pas.md is asked over HTTP; the fixture
Bundles are decided by the server, by ``decide BUNDLE`` and by ``decide CASE``
and must agree. Servers are started on a free loopback port, never another
address, and stopped by their process group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from lemtrada_asp.case.pas import ids
from lemtrada_asp.service.bench import free_port, start, stop
from lemtrada_asp.service.decision_log import read_log

PAS = Path(__file__).parent / "fixtures" / "pas"
MAPPED = sorted(p.name.removesuffix(".case.json") for p in PAS.glob("*.case.json"))
FHIR = {"content-type": "application/fhir+json"}
JSON = {"content-type": "application/json"}


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lemtrada_asp", *args], capture_output=True, text=True, timeout=120, **kw)


def bundle_bytes(name: str = "approve-initial") -> bytes:
    return (PAS / f"{name}.bundle.json").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "decisions.jsonl"
    proc, url = start("--decision-log", str(log))
    yield url, log
    assert stop(proc) == 0


def decision_of(claim_response: dict) -> dict:
    [ext] = [e for e in claim_response["extension"] if e["url"] == ids.DECISION_EXT]
    out: dict = {"failed": [], "missing": []}
    for sub in ext["extension"]:
        value = next(v for k, v in sub.items() if k.startswith("value"))
        if sub["url"] in ("failed", "missing"):
            out[sub["url"]].append(value)
        else:
            out[sub["url"]] = value
    return out


def is_outcome(response: httpx.Response, status: int) -> list[dict]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    OperationOutcome.model_validate(body)
    return body["issue"]


def is_json_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and "Traceback" not in response.text
    return body


# --- endpoints -------------------------------------------------------------------------

def test_healthz_names_the_loaded_kb_and_its_idle_deciders(server):
    from lemtrada_asp import Policy

    url, _ = server
    health = httpx.get(url + "/healthz").json()
    assert {k: health[k] for k in ("status", "kb_version")} == {"status": "ok", "kb_version": Policy.load().version}
    assert health["deciders"] == {"idle": 2, "deciding": 0, "starting": 0}


def test_metadata_is_the_capability_statement(server):
    url, _ = server
    r = httpx.get(url + "/fhir/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    CapabilityStatement.model_validate(r.json())
    assert r.json()["rest"][0]["resource"][0]["operation"][0]["name"] == "submit"


def test_the_questionnaire_endpoint_gives_what_the_command_prints(server):
    url, _ = server
    r = httpx.get(url + "/fhir/Questionnaire/lemtrada-pa")
    printed = cli("questionnaire")
    assert printed.returncode == 0
    assert r.status_code == 200 and r.json() == json.loads(printed.stdout)


def test_openapi_docs_are_served(server):
    url, _ = server
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    assert {"/fhir/Claim/$submit", "/fhir/metadata", "/fhir/Questionnaire/lemtrada-pa", "/v1/decide", "/healthz"} <= set(paths)


@pytest.fixture(scope="module")
def decided_by_cli() -> dict[str, dict]:
    """``decide --format json`` of every fixture Bundle and of every fixture case, by name."""
    out = {}
    for kind in ("bundle", "case"):  # one run per kind: the fixtures' case ids are distinct
        r = cli("decide", *(str(PAS / f"{name}.{kind}.json") for name in MAPPED), "--format", "json", "--no-corrections")
        assert r.returncode == 0, r.stderr
        for name, line in zip(MAPPED, r.stdout.splitlines(), strict=True):
            out[(name, kind)] = json.loads(line)
    return out


@pytest.mark.parametrize("name", MAPPED)
def test_decide_of_a_bundle_and_of_its_case_agree_but_for_source(name, decided_by_cli):
    from_bundle, from_case = decided_by_cli[(name, "bundle")], decided_by_cli[(name, "case")]
    assert from_bundle.pop("source").endswith(".bundle.json") and from_case.pop("source").endswith(".case.json")
    assert from_bundle == from_case


def test_decide_text_output_of_a_bundle_and_its_case_agree_but_for_source():
    texts = [cli("decide", str(PAS / f"third-course.{kind}.json")).stdout for kind in ("bundle", "case")]
    strip = [t.replace("third-course.bundle.json", "X").replace("third-course.case.json", "X") for t in texts]
    assert strip[0] == strip[1] and "PA-1005" in strip[0]


@pytest.mark.parametrize("name", MAPPED)
def test_the_servers_claim_response_carries_the_decision_of_decide(name, server, decided_by_cli):
    url, _ = server
    r = httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes(name), headers=FHIR)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    Bundle.model_validate(r.json())
    got = decision_of(r.json()["entry"][0]["resource"])
    want = decided_by_cli[(name, "bundle")]
    assert (got["decision"], got.get("pendReason"), got["course"], got["failed"], got["missing"], got["kbVersion"]) == (
        want["decision"], want["pend_reason"], want["course"], [f["id"] for f in want["failed"]],
        [m["id"] for m in want["missing"]], want["kb_version"])


@pytest.mark.parametrize("name", ["deny-step-therapy", "approve-initial", "pend-information"])
def test_v1_decide_answers_what_decide_format_json_prints_without_source(server, name):
    url, _ = server
    r = httpx.post(url + "/v1/decide", content=(PAS / f"{name}.case.json").read_bytes(), headers=JSON)
    printed = cli("decide", str(PAS / f"{name}.case.json"), "--format", "json")  # its defaults: corrections too
    want = {k: v for k, v in json.loads(printed.stdout).items() if k != "source"}
    assert r.status_code == 200 and r.json() == want


def test_submit_takes_the_escaped_path_and_the_parameters_form(server):
    url, _ = server
    direct = httpx.post(url + "/fhir/Claim/%24submit", content=bundle_bytes(), headers={"content-type": "application/fhir+json; charset=utf-8"})
    wrapped = json.dumps({"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": json.loads(bundle_bytes())}]})
    via_parameters = httpx.post(url + "/fhir/Claim/$submit", content=wrapped, headers=JSON)
    for r in (direct, via_parameters):
        assert r.status_code == 200
        assert decision_of(r.json()["entry"][0]["resource"])["decision"] == "approve"


# --- errors ----------------------------------------------------------------------------

def test_a_bad_bundle_is_400_with_an_operation_outcome_at_the_element(server):
    url, _ = server
    bad = json.loads(bundle_bytes())
    bad["entry"][4]["resource"]["birthDate"] = "1987"
    bad["entry"][0]["resource"]["use"] = "claim"
    issues = is_outcome(httpx.post(url + "/fhir/Claim/$submit", json=bad), 400)
    assert [(i["code"], i["expression"]) for i in issues] == [
        ("invalid", ["Bundle.entry[0].resource.use"]), ("invalid", ["Bundle.entry[4].resource.birthDate"])]


def test_a_case_format_problem_in_a_bundle_is_400_at_its_answer(server):
    url, _ = server
    bad = json.loads(bundle_bytes())
    bad["entry"][8]["resource"]["item"][4]["item"][0]["answer"][0]["valueCoding"]["code"] = "aspirin"
    [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", json=bad), 400)
    assert issue["expression"] == ["Bundle.entry[8].resource.item[4].item[0].answer[0].valueCoding"]
    assert "aspirin" in issue["diagnostics"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"resourceType": "Patient"}'])
def test_a_body_that_is_not_a_bundle_is_400_structure_without_expression(server, body):
    url, _ = server
    [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=body, headers=FHIR), 400)
    assert issue["code"] == "structure" and "expression" not in issue


def test_an_invalid_case_is_400_with_the_error_object(server):
    url, _ = server
    body = is_json_error(httpx.post(url + "/v1/decide", json={"id": "C-1", "request": {"date": "2026-05-01", "days": 5}}), 400)
    assert set(body) == {"case_id", "error", "problems"}
    assert body["case_id"] == "C-1" and body["error"] == "invalid_input"
    assert body["problems"] == [{"field": "request.dose_mg_per_day", "message": "required field is missing"}]
    assert is_json_error(httpx.post(url + "/v1/decide", content=b"{", headers=JSON), 400)["error"] == "invalid_input"


def test_unknown_paths_are_404_in_the_form_of_their_prefix(server):
    url, _ = server
    is_outcome(httpx.get(url + "/fhir/Patient/1"), 404)
    assert is_json_error(httpx.get(url + "/v1/nothing"), 404)["error"] == "not_found"
    assert is_json_error(httpx.get(url + "/nothing"), 404)["error"] == "not_found"


def test_another_method_on_a_known_path_is_405(server):
    url, _ = server
    is_outcome(httpx.get(url + "/fhir/Claim/$submit"), 405)
    is_outcome(httpx.delete(url + "/fhir/metadata"), 405)
    assert is_json_error(httpx.get(url + "/v1/decide"), 405)["error"] == "method_not_allowed"
    assert is_json_error(httpx.post(url + "/healthz"), 405)["error"] == "method_not_allowed"


def test_another_content_type_is_415(server):
    url, _ = server
    is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes(), headers={"content-type": "text/plain"}), 415)
    is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes()), 415)
    assert is_json_error(httpx.post(url + "/v1/decide", content=b"{}", headers={"content-type": "application/xml"}), 415)["error"] == "unsupported_media_type"


def test_a_body_over_ten_million_bytes_is_413(server):
    url, _ = server
    big = b" " * 10_000_001
    is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=big, headers=FHIR), 413)
    assert is_json_error(httpx.post(url + "/v1/decide", content=big, headers=JSON), 413)["error"] == "too_large"

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(11):
            yield b" " * 1_000_000
    is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=chunks(), headers=FHIR), 413)


def test_every_answered_decision_is_in_the_log(server):
    url, log = server
    r = httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes("cis"), headers=FHIR)
    decision_id = r.json()["entry"][0]["resource"]["id"]
    [line] = [line for line in read_log(str(log)) if line["decision_id"] == decision_id]
    assert line["endpoint"] == "fhir/Claim/$submit" and "input" not in line  # the body only with --log-requests
    assert line["case"] == json.loads((PAS / "cis.case.json").read_text())
    assert line["decision"]["decision"] == "deny" and line["kb_version"] == line["decision"]["kb_version"]
    assert line["tool_version"] and line["time"] and line["masked"] is False


def test_replay_of_the_log_reports_no_change_under_the_same_kb_and_changes_under_another(server, tmp_path):
    url, log = server
    httpx.post(url + "/v1/decide", content=(PAS / "approve-initial.case.json").read_bytes(), headers=JSON)
    same = cli("replay", str(log), "--format", "json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout.splitlines()[0])["summary"]["changed"] == 0
    kb = tmp_path / "kb"
    import shutil
    shutil.copytree(Path(__file__).resolve().parent.parent / "kb", kb)
    params = kb / "parameters.lp"
    params.write_text(params.read_text().replace("param(initial_chart_months, 3)", "param(initial_chart_months, 0)"))
    changed = cli("replay", str(log), "--kb", str(kb), "--format", "json")
    assert changed.returncode == 1, changed.stderr
    summary = json.loads(changed.stdout.splitlines()[0])["summary"]
    assert summary["changed"] >= 1
    change = json.loads(changed.stdout.splitlines()[1])
    assert change["base"]["decision"] == "approve" and "I0" in change["kb"]["missing"]
    assert "I0" in change["statuses"]  # why: known, the log's KB is the shipped one


# --- starting and stopping ---------------------------------------------------------------

def serve_exit(*args: str) -> subprocess.CompletedProcess:
    return cli("serve", "--host", "127.0.0.1", *args)


def test_a_kb_that_does_not_load_stops_the_server_with_exit_3(tmp_path):
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(Path(__file__).resolve().parent.parent / "kb", kb)
    (kb / "exclusions.lp").write_text("this is not ASP (")
    r = serve_exit("--port", str(free_port()), "--kb", str(kb))
    assert r.returncode == 3 and "knowledge base" in r.stderr and "Traceback" not in r.stderr
    assert "serving on" not in r.stderr


def test_a_port_in_use_is_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = serve_exit("--port", str(taken.getsockname()[1]))
    assert r.returncode == 2 and "cannot listen" in r.stderr and "Traceback" not in r.stderr


def test_an_unreadable_reason_codes_file_is_exit_2(tmp_path):
    (tmp_path / "codes.json").write_text("[1, 2]")
    for path in (tmp_path / "codes.json", tmp_path / "absent.json"):
        r = serve_exit("--port", str(free_port()), "--reason-codes", str(path))
        assert r.returncode == 2 and "--reason-codes" in r.stderr and "Traceback" not in r.stderr


def test_final_denials_and_reason_codes_reach_the_claim_response(tmp_path):
    (tmp_path / "codes.json").write_text(json.dumps({"I4": "EX1"}))
    proc, url = start("--final-denials", "--reason-codes", str(tmp_path / "codes.json"))
    try:
        r = httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes("deny-step-therapy"), headers=FHIR)
    finally:
        assert stop(proc) == 0
    cr = r.json()["entry"][0]["resource"]
    subs = cr["item"][0]["adjudication"][0]["extension"][0]["extension"]
    assert cr["disposition"] == "Not certified"
    assert [s["valueCodeableConcept"]["coding"][0]["code"] for s in subs] == ["A3", "EX1"]


def slow_bundle() -> bytes:
    """A valid Bundle of ~9 MB (a large attachment for the reviewer): seconds to read, so it is in flight."""
    bundle = json.loads(bundle_bytes())
    bundle["entry"].append({"fullUrl": "urn:uuid:doc", "resource": {
        "resourceType": "DocumentReference", "status": "current",
        "content": [{"attachment": {"contentType": "text/plain", "data": "QUJD" * 2_200_000}}]}})
    return json.dumps(bundle).encode()


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0():
    proc, url = start()
    answers = []
    body = slow_bundle()  # built first: on a loaded machine building it alone can take most of the wait below
    sender = threading.Thread(target=lambda: answers.append(
        httpx.post(url + "/fhir/Claim/$submit", content=body, headers=FHIR, timeout=60)))
    sender.start()
    time.sleep(0.7)  # the body is sent and being read
    os.killpg(proc.pid, signal.SIGTERM)
    sender.join(60)
    assert proc.wait(60) == 0
    assert answers and answers[0].status_code == 200
    assert decision_of(answers[0].json()["entry"][0]["resource"])["decision"] == "approve"
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/healthz", timeout=2)


@pytest.mark.slow
def test_kill_9_mid_load_leaves_no_torn_or_lost_line_for_an_answered_request(tmp_path):
    log = tmp_path / "decisions.jsonl"
    key = tmp_path / "mask.key"
    key.write_bytes(os.urandom(32))
    proc, url = start("--workers", "2", "--decision-log", str(log), "--log-requests", "--mask-member-ids", "--mask-key-file", str(key))
    answered: list[str] = []
    stop_sending = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as session:
            while not stop_sending.is_set():
                try:
                    r = session.post(url + "/fhir/Claim/$submit", content=bundle_bytes(), headers=FHIR)
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    answered.append(r.json()["entry"][0]["resource"]["id"])

    clients = [threading.Thread(target=client) for _ in range(6)]
    for c in clients:
        c.start()
    deadline = time.monotonic() + 30
    while len(answered) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its workers, mid-load
    proc.wait(30)
    stop_sending.set()
    for c in clients:
        c.join(30)
    raw = log.read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b"", "the log ends in a torn line"
    logged = [json.loads(line) for line in lines[:-1]]  # every line is whole JSON
    assert len(answered) >= 20
    assert set(answered) <= {line["decision_id"] for line in logged}
    patient = next(e["resource"] for e in logged[0]["input"]["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["identifier"][0]["value"].startswith("hmac:") and logged[0]["masked"] is True
    assert b"12345678901" not in raw and b"1122334455" not in raw  # the fixture's member id and subscriber id


def test_a_kb_that_fails_while_deciding_gives_500_and_the_server_keeps_serving(tmp_path):
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(Path(__file__).resolve().parent.parent / "kb", kb)
    with (kb / "exclusions.lp").open("a") as f:  # a second decision for some cases: unsound, found while deciding
        f.write('\ndecision(K, approve, none) :- hiv_positive(K, true).\n')
    proc, url = start("--kb", str(kb))
    try:
        hiv = json.loads(bundle_bytes())
        hiv["entry"][8]["resource"]["item"][7]["answer"][0]["valueBoolean"] = True
        [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", json=hiv), 500)
        assert issue["code"] == "exception" and "Traceback" not in issue["diagnostics"]
        case = {**json.loads((PAS / "approve-initial.case.json").read_text()), "hiv_positive": True}
        assert is_json_error(httpx.post(url + "/v1/decide", json=case), 500)["error"] == "internal_error"
        assert httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes(), headers=FHIR).status_code == 200
    finally:
        assert stop(proc) == 0
