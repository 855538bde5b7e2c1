"""The public Python API: Policy, the frozen decision record, one error type for input."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import pickle
from pathlib import Path

import clingo
import pytest

import lemtrada_asp
from conftest import CASES_DIR, CONTINUATION, INITIAL, vary
from lemtrada_asp import Decision, InputError, KnowledgeBaseError, Policy

DOCTESTED = ["lemtrada_asp", "lemtrada_asp.engine.atoms", "lemtrada_asp.engine.catalogue", "lemtrada_asp.case.schema", "lemtrada_asp.case.model", "lemtrada_asp.render.markup"]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_the_package_exports_its_api_and_is_typed():
    assert set(lemtrada_asp.__all__) >= {"Policy", "Decision", "InputError", "KnowledgeBaseError"}
    assert (Path(lemtrada_asp.__file__).parent / "py.typed").is_file()


def test_decide_takes_a_dict_a_path_or_a_validated_case_alike(policy):
    path = next(p for p in sorted(CASES_DIR.glob("*.yaml")) if not p.name.endswith(".expected.yaml"))
    by_path = policy.decide(path)
    data = policy.validate(INITIAL)
    assert policy.decide(INITIAL).to_json() | {"source": None} == policy.decide(data).to_json() | {"source": None}
    assert by_path.source == str(path) and by_path.case_id


def test_the_issue_example_works_as_written(policy):
    d = policy.decide(vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"},
                                                     {"drug": "fingolimod", "outcome": "failed"}]}))
    assert (d.decision, [f.id for f in d.failed]) == ("deny", ["I4"])
    assert d.to_json()["failed"][0]["id"] == "I4"


def test_an_invalid_case_raises_one_input_error_naming_source_and_field(policy):
    with pytest.raises(InputError) as raised:
        policy.decide(vary(INITIAL, {"request.days": "five"}), source="upload-7")
    message = str(raised.value)
    assert message.startswith("upload-7: request.days:") and "integer" in message


def test_decide_many_keeps_order_and_yields_an_invalid_case_in_its_place(policy):
    cases = [vary(INITIAL, {"id": "M-1"}), {"id": "M-2"}, vary(CONTINUATION, {"id": "M-3"})]
    out = list(policy.decide_many(cases))
    assert [type(o) for o in out] == [Decision, InputError, Decision]
    assert [out[0].case_id, out[2].case_id] == ["M-1", "M-3"]
    assert "request: required field is missing" in str(out[1])


def test_decide_many_in_workers_gives_the_same_records(policy):
    cases = [vary(INITIAL, {"id": f"W-{i}", "request.days": 3 + i % 3}) for i in range(450)]
    alone = [d.to_json() for d in policy.decide_many(cases)]
    assert [d.to_json() for d in policy.decide_many(cases, jobs=2)] == alone


def test_the_record_is_frozen_pickles_and_holds_no_clingo_object(policy):
    d = policy.decide(vary(INITIAL, {"request.days": 3}), corrections=True, details=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.decision = "approve"  # type: ignore[misc]

    def walk(value):
        assert not isinstance(value, clingo.Symbol), value
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)

    walk(d)
    assert pickle.loads(pickle.dumps(d)) == d
    assert d.corrections and d.corrections[0][0].id == "I7"


def test_a_broken_kb_directory_raises_the_kb_error(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="policy.toml does not exist"):
        Policy.load(tmp_path)
