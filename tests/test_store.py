"""The store on both back ends: migrations, file protection, idempotency, the state table, notifications.

Every test runs on SQLite (a file in a temporary data directory) and on the
PostgreSQL of ``LEMTRADA_TEST_DATABASE_URL`` (a database of its own per test;
skipped, saying why, without the variable).
"""

from __future__ import annotations

import os
import stat
import threading
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from lemtrada_asp.service.store import (Conflict, Line, NewRequest, StateError, Store, StoreError, migrate, open_store,
                                        resolve_url, states)
from store_support import postgres_database

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
TABLES = {"requests", "answers", "authorisations", "state_changes", "subscriptions", "notifications", "deliveries",
          "reviewers", "reviewer_sessions", "signed_letters"}
# the newest migration shipped: its file name starts with its revision
HEAD = max(p.name.split("_", 1)[0] for p in (Path(__file__).resolve().parents[1] / "lemtrada_asp" / "service" / "store" /
                                              "migrations" / "versions").glob("[0-9]*_*.py"))


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path):
    """The URL of an empty database on the back end (not yet migrated)."""
    if request.param == "sqlite":
        yield resolve_url(None, tmp_path / "data")
    else:
        with postgres_database() as url:
            yield resolve_url(url, None)


@pytest.fixture
def store(database):
    s = open_store(database)
    yield s
    s.close()


def answer(code: str = "A4") -> dict:
    """A stand-in response Bundle: the store keeps answers as given, whatever they say."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "ClaimResponse", "id": code}}]}


def new(key: str | None, state: str = states.PENDED, lines: list[Line] = ()) -> NewRequest:
    return NewRequest(identifier_key=key, state=state, bundle={"resourceType": "Bundle"}, answer=answer(),
                      claim_response_id=str(uuid.uuid4()), case={"id": "X"}, lines=list(lines),
                      provider_ids=["http://hl7.org/fhir/sid/us-npi|8189991234"])


def key() -> str:
    return f"urn:trace|{uuid.uuid4().hex}"


def test_migrations_create_every_table_and_running_them_again_changes_nothing(database):
    s = Store(database)
    try:
        assert migrate(s.engine) == HEAD
        assert TABLES <= set(inspect(s.engine).get_table_names())
        assert migrate(s.engine) == HEAD
    finally:
        s.close()


def test_a_store_made_by_the_first_migration_is_upgraded_in_place_keeping_its_rows(database):
    from alembic import command
    from alembic.config import Config

    from lemtrada_asp.service.store.database import MIGRATIONS

    s = Store(database)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with s.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with s.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO subscriptions (id, status, endpoint, content, headers, filters, events, resource, created_at) "
            "VALUES ('s1', 'active', 'http://127.0.0.1:9/x', 'id-only', '[]', '[]', 0, '{}', '2026-12-01 00:00:00')")
    assert migrate(s.engine) == HEAD
    assert s.subscription("s1") == {"_events": 0}
    assert "claimed_at" in {c["name"] for c in inspect(s.engine).get_columns("notifications")}
    s.close()


def test_a_notification_left_pending_by_a_stopped_worker_is_taken_over_once(store):
    from sqlalchemy import update

    from lemtrada_asp.service.store.models import Notification

    store.add_subscription(endpoint="http://127.0.0.1:9/a", content="id-only", headers=[], filters=[],
                           resource=lambda i: {"resourceType": "Subscription", "id": i})
    _, [nid] = store.submit(new(key()), "engine", notify=lambda sub, number, change: {"n": number})
    assert store.claim_stale(60) == []  # its worker took it on just now
    with store.engine.begin() as connection:  # the worker stopped two minutes ago
        connection.execute(update(Notification).where(Notification.id == nid).values(claimed_at=datetime(2000, 1, 1)))
    assert store.claim_stale(60) == [(nid, 0)]
    assert store.claim_stale(60) == []  # taken over: no second worker takes it too


def test_a_new_data_directory_holds_a_store_only_its_owner_can_read(tmp_path):
    s = open_store(data_dir=str(tmp_path / "fresh" / "dir"))
    s.submit(new(key()), "test")
    s.close()
    directory = tmp_path / "fresh" / "dir"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():  # the database and SQLite's -wal and -shm files beside it
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_an_existing_store_file_readable_by_others_is_closed_to_them(tmp_path):
    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "lemtrada-asp.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    resolve_url(None, tmp_path / "d")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_database_url_of_another_kind_is_refused_with_its_password_hidden():
    with pytest.raises(StoreError) as refused:
        resolve_url("mysql://user:secret@127.0.0.1/x", None)
    assert "secret" not in str(refused.value) and "postgresql://" in str(refused.value)


def test_an_unreachable_postgresql_is_a_message_not_a_traceback():
    s = Store(resolve_url("postgresql://nobody:pw@127.0.0.1:9/none?connect_timeout=2", None))
    with pytest.raises(StoreError) as refused:
        migrate(s.engine)
    assert "cannot be opened or migrated" in str(refused.value) and "pw" not in str(refused.value)


def test_the_same_identifier_is_stored_once_and_the_second_is_a_conflict(store):
    k = key()
    first, _ = store.submit(new(k, states.APPROVED, [Line("LEM-1", 1, "2026-05-12", "2026-06-10", "60")]), "engine")
    with pytest.raises(Conflict):
        store.submit(new(k, states.APPROVED, [Line("LEM-2", 1)]), "engine")
    assert [a["pre_auth_ref"] for a in store.authorisations(first.id)] == ["LEM-1"]
    assert store.find(k).id == first.id


def test_two_threads_storing_the_same_claim_at_once_store_it_once(database, store):
    k = key()
    stores = [Store(database) for _ in range(4)]
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def race(s: Store, n: int) -> None:
        barrier.wait()
        try:
            s.submit(new(k, states.APPROVED, [Line(f"LEM-race-{n}", 1)]), "engine")
            outcomes.append("stored")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=race, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(outcomes) == ["conflict"] * 3 + ["stored"]
    assert len(store.authorisations(store.find(k).id)) == 1


def test_requests_without_an_identifier_are_each_stored(store):
    a, _ = store.submit(new(None), "engine")
    b, _ = store.submit(new(None), "engine")
    assert a.id != b.id and store.count_requests() == 2


def test_a_request_moves_only_forward_and_each_move_names_who_made_it(store):
    stored, _ = store.submit(new(key()), "lemtrada-asp decision engine")
    store.move(stored.id, states.APPROVED, "reviewer dr-lee", "records checked")
    with pytest.raises(StateError):
        store.move(stored.id, states.PENDED, "reviewer dr-lee")
    with pytest.raises(StateError):
        store.move(stored.id, states.DENIED, "reviewer dr-lee")
    assert [(h["from"], h["to"], h["actor"]) for h in store.history(stored.id)] == [
        ("new", "pended", "lemtrada-asp decision engine"), ("pended", "approved", "reviewer dr-lee")]


def test_every_move_the_state_table_lists_and_no_other_is_allowed():
    assert states.allowed(states.PENDED, states.APPROVED) and states.allowed(states.APPROVED, states.CANCELLED)
    for final in states.FINAL:
        assert not any(states.allowed(final, target) for target in states.STATES)
    assert not states.allowed(states.APPROVED, states.PENDED) and not states.allowed(states.DENIED, states.APPROVED)


def test_an_update_replaces_its_request_and_cancels_only_the_lines_it_flags(store):
    prior, _ = store.submit(new(key(), states.APPROVED, [Line("LEM-a", 1), Line("LEM-a-2", 2)]), "engine")
    update, _ = store.submit(new(key(), states.APPROVED, [Line("LEM-b", 1)]), "engine", replaces=prior, cancelled_lines=[2])
    assert store.find_by_id(prior.id).state == states.REPLACED
    assert store.latest(prior).id == update.id
    assert {a["pre_auth_ref"]: a["status"] for a in store.authorisations(prior.id)} == {"LEM-a": "replaced", "LEM-a-2": "cancelled"}


def test_a_request_already_replaced_cannot_be_replaced_again(store):
    prior, _ = store.submit(new(key()), "engine")
    store.submit(new(key()), "engine", replaces=prior)
    with pytest.raises(StateError):
        store.submit(new(key()), "engine", replaces=prior)  # the stale copy still says pended


def test_state_changes_queue_one_numbered_notification_per_matching_subscription(store):
    every = store.add_subscription(endpoint="http://127.0.0.1:9/a", content="id-only", headers=[], filters=[],
                                   resource=lambda i: {"resourceType": "Subscription", "id": i})
    other = store.add_subscription(endpoint="http://127.0.0.1:9/b", content="id-only", headers=[], filters=["0000000000"],
                                   resource=lambda i: {"resourceType": "Subscription", "id": i})
    seen = []

    def notify(sub, number, change):
        seen.append((sub["id"], number, change.source, change.target))
        return {"n": number}

    stored, ids = store.submit(new(key()), "engine", notify=notify)
    _, more = store.move(stored.id, states.DENIED, "reviewer dr-lee", notify=notify)
    assert len(ids) == 1 and len(more) == 1
    assert seen == [(every["id"], 1, "new", "pended"), (every["id"], 2, "pended", "denied")]
    assert store.subscription(other["id"])["_events"] == 0
    store.record_attempt(ids[0], 1, status_code=503, error="HTTP 503", ok=False, final=False)
    store.record_attempt(ids[0], 2, status_code=200, error=None, ok=True, final=True)
    assert [(d["attempt"], d["ok"], d["notification_status"]) for d in store.deliveries(every["id"])] == [
        (1, False, "delivered"), (2, True, "delivered")]


@pytest.fixture(scope="module")
def decider():
    from lemtrada_asp.service.decider import Decider

    return Decider()


@pytest.mark.parametrize("verdict, code", [("approve", "A1"), ("deny", "A3")])
def test_a_reviewers_final_decision_is_answered_as_human_reviewed_and_recorded_with_the_reviewer(
        tmp_path, decider, verdict, code):
    import json as _json

    from lemtrada_asp.service.pas.lifecycle import Lifecycle
    from store_support import bundle, identified, key_of, response_of, review_codes

    class Kept:  # notifications are delivered by the server's thread; here only their ids are kept
        def __init__(self):
            self.ids: list[int] = []

        def deliver(self, ids):
            self.ids += ids

    s = open_store(data_dir=str(tmp_path / "data"))
    life = Lifecycle(s, decider.decide, deliverer=Kept())
    b = identified(bundle("deny-step-therapy"), f"TRN-review-{verdict}")
    pended = life.submit(_json.dumps(b).encode())
    assert review_codes(pended.bundle) == ["A4"]
    moved = life.review(key_of(b), verdict, "dr-lee", "chart reviewed")
    response = response_of(moved.answer)
    assert review_codes(moved.answer) == [code]
    assert response["extension"][0]["extension"] == [{"url": "wasHumanReviewedFlag", "valueBoolean": True}]
    assert s.history(moved.id)[-1]["actor"] == "reviewer dr-lee"
    assert [a["pre_auth_ref"] for a in s.authorisations(moved.id)] == ([response["preAuthRef"]] if verdict == "approve" else [])
    with pytest.raises(StateError):
        life.review(key_of(b), "approve", "dr-lee")  # decided: a reviewer cannot decide it again
    s.close()
