"""CRD's hook calls need the client's token as every other route does (service/auth.py); discovery is open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fhirpathpy")

from crd_support import SIGN, coverage_info, hook_request, post

from lemtrada_asp.service.bench import free_port, start, stop
from lemtrada_asp.service.store import Store, sqlite_url


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lemtrada_asp", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys") / "keys"
    assert cli("token", "--keys", str(keys), "--audience", "http://example.invalid").returncode == 0
    proc, url = start("--jwks", str(keys / "jwks.json"), port=free_port())
    store = Store(sqlite_url(proc.data_dir))
    yield url, keys, store
    store.close()
    assert stop(proc) == 0


def bearer(keys: Path, url: str, scope: str) -> dict:
    made = cli("token", "--keys", str(keys), "--audience", url, "--scope", scope, "--client", "acme-ehr")
    assert made.returncode == 0, made.stderr
    return {"authorization": f"Bearer {made.stdout.strip()}"}


def test_discovery_is_open_as_fhir_metadata_is(server):
    url, _, _ = server
    assert httpx.get(f"{url}/cds-services", timeout=30).status_code == 200


def test_a_hook_call_without_a_token_is_401_with_a_bearer_challenge_before_its_body_is_read(server):
    url, _, _ = server
    r = post(url, SIGN, b"not even json")
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_token_that_does_not_grant_reading_coverage_is_403(server):
    url, keys, _ = server
    r = post(url, SIGN, hook_request("order-sign-rrms"), headers=bearer(keys, url, "system/Claim.write"))
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"


@pytest.mark.parametrize("scope", ["system/Coverage.read", "system/*.read"])
def test_a_token_granting_read_on_coverage_is_answered_and_its_client_is_stored_with_the_answer(server, scope):
    url, keys, store = server
    r = post(url, SIGN, hook_request("order-sign-rrms"), headers=bearer(keys, url, scope))
    assert r.status_code == 200
    [action] = r.json()["systemActions"]
    [assertion_id] = coverage_info(action["resource"])["coverage-assertion-id"]
    assert store.coverage_assertion(assertion_id)["client"] == "acme-ehr"
