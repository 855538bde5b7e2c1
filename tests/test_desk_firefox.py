"""The review desk in Debian's headless Firefox, against a real ``serve`` on 127.0.0.1.

The issue asks that the desk work in a current Chromium and Firefox; test_desk.py drives
Chromium through Selenium. Debian has no geckodriver, so Firefox is driven through its own
WebDriver BiDi agent by puppeteer-core (tests/browser/desk.mjs, on Node), which never
downloads a browser. The script acts and reports what it saw as JSON; this test asserts on
that and then asks ``$inquire`` from Python. Screenshots: tests/screenshots/desk-firefox-*.png.

Without firefox-esr, node or the installed puppeteer-core the test skips with its reason;
.ci/run installs them and sets LEMTRADA_REQUIRE_FIREFOX, so in CI a missing one fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from lemtrada_asp.service.desk.routes import PREFIX
from store_support import bundle, claim, identified, key_of, review_codes, subscription
from test_desk import FHIR, PASSWORD, desk, human_reviewed, inquire, receiver, submit, unique  # noqa: F401  (fixtures)
from test_pictures import SCREENSHOTS, TALLEST, WIDTH

BROWSER = Path(__file__).parent / "browser"
FIREFOX = Path("/usr/bin/firefox-esr")
REASON = "Step therapy is not met: the member has four effective DMTs on record."


@pytest.fixture(scope="module")
def firefox() -> None:
    """Skip, saying what is missing -- or fail, when .ci/run says it installed the browser tools.

    Module-scoped and asked for before ``desk``, so a skip comes before a server is started.
    """
    missing = []
    if not FIREFOX.is_file():
        missing.append(f"Debian's firefox-esr ({FIREFOX})")
    if shutil.which("node") is None:
        missing.append("node")
    elif not (BROWSER / "node_modules" / "puppeteer-core").is_dir():
        missing.append("puppeteer-core (run `npm ci` in tests/browser)")
    if missing:
        message = f"the Firefox desk test needs {', '.join(missing)}; .ci/run installs each"
        if os.environ.get("LEMTRADA_REQUIRE_FIREFOX"):
            pytest.fail(message)
        pytest.skip(message)


def drive(**steps) -> dict:
    """Run tests/browser/desk.mjs with ``steps``; what Firefox saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    given = {"prefix": PREFIX, "screenshots": str(SCREENSHOTS), "width": WIDTH, "tallest": TALLEST,
             "firefox": str(FIREFOX), **steps}
    out = subprocess.run(["node", str(BROWSER / "desk.mjs")], input=json.dumps(given), capture_output=True, text=True,
                         timeout=240, cwd=BROWSER)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("desk", ["sqlite"], indirect=True)
def test_a_reviewer_signs_a_denial_in_firefox_and_inquire_answers_a3_reviewed_by_a_human(firefox, desk, receiver):
    sub = httpx.post(desk.url + "/fhir/Subscription", content=json.dumps(subscription(receiver.url)), headers=FHIR,
                     timeout=60)
    assert sub.status_code == 201
    denial = identified(bundle("deny-step-therapy"), unique("TRN-firefox"))
    assert review_codes(submit(desk.url, denial)) == ["A4"]
    stored = desk.store.find(key_of(denial))
    heard = len(receiver.wait_for(1))
    for name in ("desk-firefox-queue.png", "desk-firefox-request.png"):
        (SCREENSHOTS / name).unlink(missing_ok=True)  # so the files checked below are this run's

    seen = drive(url=desk.url, name="Dr Ada Lee", password=PASSWORD, key=key_of(denial), verdict="deny", reason=REASON)

    assert seen["signInUrl"] == desk.url + f"{PREFIX}/sign-in"  # no session: the sign-in form first
    assert seen["queueUrl"] == desk.url + f"{PREFIX}/queue"
    assert seen["who"].startswith("Signed in as Dr Ada Lee")
    assert seen["row"] == {"reason": "denial_recommended", "request": stored.id,
                           "href": desk.url + f"{PREFIX}/requests/{stored.id}"}
    request = seen["request"]
    assert request["h1"] == f"Request {claim(denial)['id']}" and request["recommendation"] == "denial recommended"
    assert request["clock"].startswith("standard: ")
    tree = {n["id"]: n for n in request["nodes"]}
    failed = stored.decision["failed"]
    assert failed and all(tree[f["id"]]["status"] == f["status"] for f in failed)  # the criteria the program names
    not_met = [n for n in request["nodes"] if n["status"] == "not_met"]
    assert not_met and all("not met" in n["shown"] and n["visible"] for n in not_met)
    assert {n["status"] for n in request["nodes"]} > {"not_met"}  # the tree shows met criteria beside them

    signed = seen["signed"]
    assert signed["url"].endswith("?signed=deny") and (signed["codes"], signed["reviewed"]) == ("A3", "true")
    assert signed["notice"].startswith("Signed: deny, by Dr Ada Lee (MD, neurology)")
    assert "Firefox/" in seen["userAgent"]

    answer = inquire(desk.url, denial)  # and the provider, asking, hears a clinician's denial
    assert review_codes(answer) == ["A3"] and human_reviewed(answer)
    [note] = receiver.wait_for(heard + 1)[heard:]  # and its subscription was told at once
    assert review_codes({"entry": [note["entry"][1]]}) == ["A3"] and human_reviewed({"entry": [note["entry"][1]]})
    assert desk.store.history(stored.id)[-1]["actor"] == "reviewer Dr Ada Lee, MD, neurology"
    for name in ("desk-firefox-queue.png", "desk-firefox-request.png"):
        assert (SCREENSHOTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
