"""Issue 22, finding 10: only known clients get in (``serve --jwks``; service/auth.py).

The keys and tokens are made by ``lemtrada-asp token`` (the command a user runs);
tokens with one thing wrong are signed here with the same key, or another.
Servers run on 127.0.0.1 only; the refusal of another host happens before binding.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from lemtrada_asp.service.auth import grants
from lemtrada_asp.service.bench import free_port, start, stop
from lemtrada_asp.service.decision_log import read_log
from test_fhir_service import FHIR, JSON, PAS, bundle_bytes, is_json_error, is_outcome


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lemtrada_asp", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("keys") / "keys"
    made = cli("token", "--keys", str(directory), "--audience", "http://example.invalid")
    assert made.returncode == 0 and "made a test key pair" in made.stderr
    assert (directory / "private.pem").stat().st_mode & 0o777 == 0o600
    return directory


@pytest.fixture(scope="module")
def server(keys, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "decisions.jsonl"
    port = free_port()
    proc, url = start("--jwks", str(keys / "jwks.json"), "--decision-log", str(log), "--docs", port=port)
    yield url, log
    assert stop(proc) == 0


def token(keys: Path, url: str, scope: str = "system/Claim.write system/*.read", client: str = "acme-pas") -> str:
    made = cli("token", "--keys", str(keys), "--audience", url, "--scope", scope, "--client", client)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def signed(keys: Path, claims: dict, private=None, **headers) -> str:
    key = private or serialization.load_pem_private_key((keys / "private.pem").read_bytes(), password=None)
    kid = json.loads((keys / "jwks.json").read_text())["keys"][0]["kid"]
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": kid, **headers})


def claims(url: str, **changes) -> dict:
    now = int(time.time())
    base = {"iss": "acme-pas", "sub": "acme-pas", "aud": url, "exp": now + 300, "iat": now,
            "scope": "system/Claim.write system/*.read"}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def bearer(value: str) -> dict:
    return {"authorization": f"Bearer {value}"}


def test_a_token_from_the_token_command_decides_on_both_endpoints(server, keys):
    url, _ = server
    good = bearer(token(keys, url))
    r = httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes(), headers={**FHIR, **good})
    assert r.status_code == 200 and r.json()["resourceType"] == "Bundle"
    r = httpx.post(url + "/v1/decide", content=(PAS / "approve-initial.case.json").read_bytes(), headers={**JSON, **good})
    assert r.status_code == 200 and r.json()["decision"] == "approve"
    assert httpx.get(url + "/fhir/Questionnaire/lemtrada-pa", headers=good).status_code == 200


@pytest.mark.parametrize("path", ["/fhir/Claim/$submit", "/v1/decide", "/fhir/Questionnaire/lemtrada-pa"])
def test_no_token_is_401_with_a_bearer_challenge_in_the_form_of_the_path(server, path):
    url, _ = server
    method = "GET" if "Questionnaire" in path else "POST"
    r = httpx.request(method, url + path, content=bundle_bytes(), headers=FHIR)
    assert r.headers["www-authenticate"].startswith("Bearer")
    if path.startswith("/fhir/"):
        [issue] = is_outcome(r, 401)
        assert issue["code"] == "login"
    else:
        assert is_json_error(r, 401)["error"] == "invalid_token"


BAD = {
    "expired": lambda url: claims(url, exp=int(time.time()) - 3600, iat=int(time.time()) - 4000),
    "another audience": lambda url: claims(url, aud="http://elsewhere.example"),
    "no exp": lambda url: claims(url, exp=None),
    "iss is not sub": lambda url: claims(url, sub="someone-else"),
}


@pytest.mark.parametrize("make", BAD.values(), ids=BAD.keys())
def test_a_token_with_one_thing_wrong_is_401(server, keys, make):
    url, log = server
    before = len(read_log(str(log)))
    r = httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes(), headers={**FHIR, **bearer(signed(keys, make(url)))})
    [issue] = is_outcome(r, 401)
    assert issue["code"] == "login"
    assert len(read_log(str(log))) == before


def test_a_token_signed_by_another_key_or_unsigned_is_401(server, keys):
    from cryptography.hazmat.primitives.asymmetric import ec

    url, _ = server
    other = signed(keys, claims(url), private=ec.generate_private_key(ec.SECP384R1()))
    unsigned = jwt.encode(claims(url), None, algorithm="none")
    shared = jwt.encode(claims(url), "secret-but-shared-key-of-32-bytes!!", algorithm="HS256")
    kid = json.loads((keys / "jwks.json").read_text())["keys"][0]["kid"]
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_kind = jwt.encode(claims(url), rsa_key, algorithm="RS256", headers={"kid": kid})  # names the EC key
    for value in (other, unsigned, shared, other_kind, "not.a.jwt", "-"):
        r = httpx.post(url + "/v1/decide", json={"id": "x"}, headers=bearer(value))
        assert is_json_error(r, 401)["error"] == "invalid_token", value


def test_a_token_without_the_scope_is_403_and_reads_need_a_read_scope(server, keys):
    url, _ = server
    read_only = bearer(token(keys, url, scope="system/*.read"))
    [issue] = is_outcome(httpx.post(url + "/fhir/Claim/$submit", content=bundle_bytes(), headers={**FHIR, **read_only}), 403)
    assert issue["code"] == "forbidden" and "system/Claim.write" in issue["diagnostics"]
    assert httpx.get(url + "/fhir/Questionnaire/lemtrada-pa", headers=read_only).status_code == 200
    write_only = bearer(token(keys, url, scope="system/Claim.write"))
    assert is_outcome(httpx.get(url + "/fhir/Questionnaire/lemtrada-pa", headers=write_only), 403)
    questionnaire_only = bearer(token(keys, url, scope="system/Questionnaire.read"))
    assert httpx.get(url + "/fhir/Questionnaire/lemtrada-pa", headers=questionnaire_only).status_code == 200


def test_healthz_and_metadata_stay_open(server):
    url, _ = server
    assert httpx.get(url + "/healthz").status_code == 200
    assert httpx.get(url + "/fhir/metadata").status_code == 200


def test_docs_with_docs_is_an_open_static_page_with_no_script_or_outside_address(server):
    url, _ = server
    r = httpx.get(url + "/docs")
    assert r.status_code == 200 and "/fhir/Claim/$submit" in r.text
    assert "<script" not in r.text.lower() and "http" not in r.text.lower().replace("/openapi.json", "")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert httpx.get(url + "/redoc").status_code == 404


def test_the_body_of_an_unauthenticated_request_is_not_read(server):
    """Refused on its headers: a 10 MB body from nobody costs the server no parsing."""
    url, _ = server
    r = httpx.post(url + "/fhir/Claim/$submit", content=b"x" * 9_000_000, headers=FHIR)
    assert is_outcome(r, 401)


def test_the_client_id_is_on_the_log_line(server, keys):
    url, log = server
    httpx.post(url + "/v1/decide", content=(PAS / "approve-initial.case.json").read_bytes(),
               headers={**JSON, **bearer(token(keys, url, client="clinic-42"))})
    assert read_log(str(log))[-1]["client"] == "clinic-42"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_a_non_loopback_host_without_jwks_is_refused_with_exit_2(host):
    done = cli("serve", "--host", host, "--port", str(free_port()))
    assert done.returncode == 2 and "--jwks" in done.stderr and "--insecure" in done.stderr


def test_a_jwks_that_does_not_read_is_exit_2(tmp_path):
    (tmp_path / "jwks.json").write_text('{"keys": "none"}')
    done = cli("serve", "--port", str(free_port()), "--jwks", str(tmp_path / "jwks.json"))
    assert done.returncode == 2 and "cannot be read as a JWKS" in done.stderr


@pytest.mark.parametrize("scopes, resource, action, granted", [
    ({"system/Claim.write"}, "Claim", "write", True),
    ({"system/*.write"}, "Claim", "write", True),
    ({"system/Claim.c"}, "Claim", "write", True),
    ({"system/Claim.rs"}, "Claim", "write", False),
    ({"system/Claim.read"}, "Claim", "write", False),
    ({"system/*.read"}, "Questionnaire", "read", True),
    ({"system/Questionnaire.rs"}, "Questionnaire", "read", True),
    ({"user/Claim.write", "patient/*.read"}, "Claim", "write", False),
    ({"system/Patient.read"}, "Questionnaire", "read", False),
])
def test_scopes_grant_as_smart_v1_and_v2_say(scopes, resource, action, granted):
    assert grants(scopes, resource, action) is granted
