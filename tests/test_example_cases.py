"""Every example case in cases/ decides as its .expected.yaml says (golden tests)."""

from __future__ import annotations

import pytest

from conftest import CASES_DIR
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.engine.loading import is_case_file, iter_items
from lemtrada_asp.analysis.suite import expectation_path, load_expectation, mismatches, needs_corrections

CASE_FILES = sorted(p for p in CASES_DIR.iterdir() if is_case_file(p))


def test_the_suite_has_at_least_30_cases_each_with_an_expectation():
    assert len(CASE_FILES) >= 30
    assert [p.name for p in CASE_FILES if expectation_path(p) is None] == []


def test_case_ids_are_unique_across_the_suite():
    ids = [item.case.id for item in iter_items([str(CASES_DIR)], validate_case)]
    assert len(ids) == len(set(ids)) == len(CASE_FILES)


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.name.rsplit(".", 1)[0] for p in CASE_FILES])
def test_example_case(engine, path):
    [item] = iter_items([str(path)], validate_case)
    assert item.error is None, item.error and item.error.describe()
    expected = load_expectation(expectation_path(path))
    decision = engine.decide([(item.source, item.case)], corrections=needs_corrections(expected))[0].to_json()
    assert mismatches(expected, decision) == []


def test_a_mismatch_is_reported_per_key_with_missing_and_extra_ids():
    decision = {"decision": "deny", "pend_reason": None, "failed": [{"id": "I2"}], "missing": [], "authorized": None}
    assert mismatches({"decision": "deny", "failed": ["I2"]}, decision) == []
    assert mismatches({"decision": "approve", "failed": [], "authorized_mg": 60}, decision) == [
        "decision: expected approve, decided deny",
        "failed: expected [], decided [I2]  (+I2)",
        "authorized_mg: expected 60, decided none",
    ]
