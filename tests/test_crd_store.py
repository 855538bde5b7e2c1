"""Migration 0004 and its repository functions on both back ends: CRD's coverage assertions and PAS requests' links."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect
from store_support import postgres_database

from lemtrada_asp.service.store import (
    Line,
    NewRequest,
    migrate,
    open_store,
    resolve_url,
    states,
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    if request.param == "sqlite":
        s = open_store(resolve_url(None, tmp_path / "data"))
        yield s
        s.close()
    else:
        with postgres_database() as url:
            s = open_store(resolve_url(url, None))
            yield s
            s.close()


def assertion(store, **changes) -> str:
    fields = {"hook": "order-sign", "hook_instance": str(uuid.uuid4()), "order_ref": "MedicationRequest/o1",
              "patient": "p1", "client": "acme-ehr", "covered": "conditional", "pa_needed": "auth-needed",
              "doc_needed": "clinical", "decision": "pend:information", "missing": ["I0", "I4"], "failing": [],
              "case": {"id": "crd-1", "request": {}}, "kb_version": "sha256:x"}
    fields.update(changes)
    return store.add_coverage_assertion(**fields)[0]


def test_migration_0004_adds_the_assertion_and_link_tables(store):
    assert migrate(store.engine) == "0004"
    assert {"coverage_assertions", "coverage_links"} <= set(inspect(store.engine).get_table_names())


def test_a_coverage_assertion_is_stored_and_read_back_by_its_id(store):
    first, second = assertion(store), assertion(store, covered="not-covered", pa_needed=None, doc_needed=None,
                                                decision="deny", missing=[], failing=["I7", "E4"])
    assert first != second
    read = store.coverage_assertion(second)
    assert (read["covered"], read["pa_needed"], read["failing"], read["client"]) == ("not-covered", None, ["I7", "E4"], "acme-ehr")
    assert store.coverage_assertion(first)["missing"] == ["I0", "I4"]
    assert store.coverage_assertion("no-such-id") is None and store.coverage_assertion("x" * 500) is None


def test_a_requests_links_are_stored_with_it_once_each(store):
    made = assertion(store)
    new = NewRequest(identifier_key=f"sys|{uuid.uuid4()}", state=states.APPROVED, bundle={"resourceType": "Bundle"},
                     answer={"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ClaimResponse"}}]},
                     claim_response_id=str(uuid.uuid4()), lines=[Line("REF-1", 1)],
                     links=[("coverage-assertion-id", made), ("coverage-assertion-id", made), ("satisfied-pa-id", "REF-0")])
    stored, _ = store.submit(new, "test")
    assert store.coverage_links(stored.id) == [{"kind": "coverage-assertion-id", "value": made},
                                               {"kind": "satisfied-pa-id", "value": "REF-0"}]
    assert store.authorisation("REF-1")["request_id"] == stored.id and store.authorisation("REF-2") is None
