"""What the store and lifecycle tests share: the two back ends, PAS request builders, a notification receiver.

PostgreSQL is the one ``.ci/run`` starts (``.ci/postgres``): its URL comes in
``LEMTRADA_TEST_DATABASE_URL``; each test gets a database of its own there,
dropped afterwards. Without the variable the PostgreSQL tests skip, saying so.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

PAS = Path(__file__).parent / "fixtures" / "pas"
PG_ENV = "LEMTRADA_TEST_DATABASE_URL"
NO_PG = f"no PostgreSQL to test against: set {PG_ENV} (.ci/run starts one with .ci/postgres)"
INFO_CANCELLED = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database on the test PostgreSQL; its URL. Dropped at the end."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(NO_PG)
    name = f"lt_{uuid.uuid4().hex[:12]}"
    conninfo = make_url(admin).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield conninfo.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bundle(name: str) -> dict:
    return json.loads((PAS / f"{name}.bundle.json").read_text())


def claim(b: dict) -> dict:
    return b["entry"][0]["resource"]


def identified(b: dict, value: str) -> dict:
    """The Bundle with its Claim's trace number (and the Bundle's identifier) set to ``value``."""
    b = copy.deepcopy(b)
    claim(b)["identifier"][0]["value"] = value
    b["identifier"]["value"] = f"B-{value}"
    return b


def key_of(b: dict) -> str:
    ident = claim(b)["identifier"][0]
    return f"{ident['system']}|{ident['value']}"


def update_of(prior: dict, value: str, *, records: bool = True, cancel: bool = False) -> dict:
    """A PAS update of ``prior``: a new trace number, ``related`` naming the prior Claim, and the DTR answers.

    ``records``: adds the QuestionnaireResponse of approve-initial (same patient and
    references) that documents what pend-information lacks. ``cancel``: the item
    flagged infoCancelled, as a requester withdrawing the line.
    """
    b = identified(prior, value)
    c = claim(b)
    c["related"] = [{"claim": {"identifier": claim(prior)["identifier"][0]},
                     "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship",
                                                  "code": "prior"}]}}]
    if records:
        source = bundle("approve-initial")
        qr = next(e for e in source["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
        if all(e["fullUrl"] != qr["fullUrl"] for e in b["entry"]):
            b["entry"].append(copy.deepcopy(qr))
        c["supportingInfo"] = copy.deepcopy(claim(source)["supportingInfo"])
    if cancel:
        for item in c["item"]:
            item.setdefault("modifierExtension", []).append({"url": INFO_CANCELLED, "valueBoolean": True})
    return b


def inquiry_of(b: dict) -> dict:
    """A PAS inquiry Bundle for a request: its Claim with the same identifier and parties."""
    b = copy.deepcopy(b)
    c = claim(b)
    keep = ("resourceType", "id", "identifier", "status", "type", "use", "patient", "created", "insurer", "provider",
            "priority", "item")
    b["entry"][0]["resource"] = {k: v for k, v in c.items() if k in keep}
    return b


def response_of(answer: dict) -> dict:
    return answer["entry"][0]["resource"]


def review_codes(answer: dict) -> list[str]:
    return [c["code"] for item in response_of(answer)["item"] for adj in item["adjudication"] for ext in adj["extension"]
            for sub in ext["extension"] if sub["url"].endswith("reviewActionCode") for c in sub["valueCodeableConcept"]["coding"]]


class Receiver:
    """A tiny HTTP server on 127.0.0.1 recording the notifications POSTed to it; the first ``fail`` get 500."""

    def __init__(self, fail: int = 0):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self.fail = fail
        self._cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with owner._cond:
                    status = 500 if len(owner.statuses) < owner.fail else 200
                    owner.statuses.append(status)
                    if status == 200:
                        owner.received.append(json.loads(body))
                    owner._cond.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20) -> list[dict]:
        """The first ``count`` notifications received, waiting up to ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count and time.monotonic() < deadline:
                self._cond.wait(0.1)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def subscription(endpoint: str, content: str = "full-resource", filters: tuple[str, ...] = ()) -> dict:
    """A Backport Subscription to PAS's topic with a rest-hook channel to ``endpoint``."""
    backport = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    sub = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "follow my prior authorisation requests",
        "criteria": "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic",
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
                    "_payload": {"extension": [{"url": backport + "backport-payload-content", "valueCode": content}]}},
    }
    if filters:
        sub["_criteria"] = {"extension": [{"url": backport + "backport-filter-criteria", "valueString": f}
                                          for f in filters]}
    return sub


def focus_states(notification: dict) -> tuple[str, str | None]:
    """(event number, review action code of the ClaimResponse carried) of one notification Bundle."""
    status = notification["entry"][0]["resource"]
    event = next(p for p in status["parameter"] if p["name"] == "notification-event")
    number = next(p["valueString"] for p in event["part"] if p["name"] == "event-number")
    response = notification["entry"][1].get("resource") if len(notification["entry"]) > 1 else None
    code = review_codes({"entry": [{"resource": response}]})[0] if response else None
    return number, code
