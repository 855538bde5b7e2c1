"""The fast path of case validation (case/fast.py) agrees with the pydantic model.

Whenever the fast path accepts a case, pydantic accepts it too and gives the same case,
field for field and type for type; whenever pydantic refuses one, the fast path does not
accept it (so the error is pydantic's, worded as always). Checked on every example case
in cases/, the hostile values of tests/test_hostile_input.py put in every field of every
seed case, YAML's own values (dates, date-times, tagged scalars), and Hypothesis's
generated and mutated cases. It also holds the other way for what JSON or YAML can
give: a case pydantic accepts, the fast path accepts.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import CASES_DIR
from test_hostile_input import BASE_YAML, HOSTILE_TEXT, ODD_VALUES, SEEDS, _paths, budget, json_values, mutations
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.case.fast import fast_case
from lemtrada_asp.case.model import pydantic_case
from lemtrada_asp.case.plain import Plain
from lemtrada_asp.case.schema import FIELDS
from lemtrada_asp.case.validation import validate_case
from lemtrada_asp.engine.errors import CaseValidationError
from lemtrada_asp.engine.limits import shape_problems
from lemtrada_asp.engine.loading import load_yaml


def typed(value: Any) -> Any:
    """A case's values with their types, so that 1, 1.0 and True are not equal."""
    if isinstance(value, Plain):
        return (type(value).__name__, tuple(typed(v) for v in value.values()))
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def verdicts(data: Any) -> tuple[Any, Any]:
    """(the fast path's case or None, pydantic's case or its error) for data validate_case would reach them with."""
    fast = fast_case(data)
    try:
        slow = pydantic_case(data, "case.json", None)
    except CaseValidationError as exc:
        slow = exc
    return fast, slow


def assert_agree(data: Any) -> str:
    """That the two validators agree on data; 'accepted', 'refused' or 'not reached'."""
    fast = fast_case(data)
    if not isinstance(data, dict) or shape_problems(data):
        assert fast is None, f"the fast path accepted what the shape check refuses: {data!r}"
        return "not reached"  # validate_case refuses it before pydantic
    fast, slow = verdicts(data)
    if isinstance(slow, CaseValidationError):
        assert fast is None, f"the fast path accepted what pydantic refuses ({slow}): {data!r}"
        return "refused"
    assert fast is not None, f"the fast path refused what pydantic accepts: {data!r}"
    assert fast == slow and typed(fast) == typed(slow), (data, fast, slow)
    return "accepted"


def example_cases() -> list[Any]:
    return [load_yaml(p.read_text()) for p in sorted(CASES_DIR.glob("*.yaml")) if ".expected." not in p.name]


def test_every_example_case_is_accepted_by_the_fast_path_as_pydantic_accepts_it():
    outcomes = [assert_agree(case) for case in example_cases()]
    assert outcomes and set(outcomes) == {"accepted"}


def test_every_generated_case_is_accepted_by_the_fast_path_as_pydantic_accepts_it():
    outcomes = {assert_agree(case) for case in generate_cases(300, 7)}
    assert outcomes == {"accepted"}


def with_value(case: dict, path: tuple, value: Any) -> dict:
    changed = copy.deepcopy(case)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = copy.deepcopy(value)
    return changed


def test_every_hostile_value_in_every_field_of_every_seed_gets_the_same_verdict():
    outcomes: dict[str, int] = {}
    for seed in SEEDS[::3]:
        for path in _paths(seed)[1:]:
            for value in [*HOSTILE_TEXT, *ODD_VALUES]:
                outcome = assert_agree(with_value(seed, path, value))
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("accepted") and outcomes.get("refused"), outcomes


@pytest.mark.parametrize("written", [
    "2026-04-20", '"2026-04-20"', "2026-02-30", "2026-05-01T10:00:00", "2026-05-01 10:00:00", "20260420", "!!str 2026-04-20",
])
def test_a_yaml_date_or_date_time_gets_the_same_verdict(written):
    data = load_yaml(BASE_YAML.replace("chart_date: 2026-04-20", f"chart_date: {written}"))
    assert assert_agree(data) in ("accepted", "refused")


@pytest.mark.parametrize("replacement", [
    "state: !!str TX", "state: no", "state: NO", "state: tx ", "ms_course: Relapsing-Remitting", "ms_course: RELAPSING REMITTING",
    "specialty: Neurology", "dose_mg_per_day: 1_000", "dose_mg_per_day: 012", "dose_mg_per_day: .inf", "days: 5.0",
    "drug: Tysabri", "drug: natalizumab-sztn", "drug: alemtuzumab", "active: yes", "G35.A", "hiv_positive: null",
])
def test_a_yaml_spelling_gets_the_same_verdict(replacement):
    key = replacement.split(":")[0]
    lines = [line for line in BASE_YAML.splitlines() if f"{key}:" in line or key in line]
    assert lines, replacement
    text = BASE_YAML.replace(lines[0], lines[0].replace(_current(lines[0], key), replacement, 1))
    assert assert_agree(load_yaml(text)) in ("accepted", "refused")


def _current(line: str, key: str) -> str:
    start = line.index(key)
    end = min([i for i in (line.find(",", start), line.find("}", start), line.find("]", start)) if i >= 0] or [len(line)])
    return line[start:end]


def test_values_no_json_gives_are_left_to_pydantic_and_the_case_is_the_same():
    base = {"id": "P-1", "request": {"date": date(2026, 5, 1), "dose_mg_per_day": 12, "days": 5}}
    for odd in ({**base, "active_infections": ("shingles",)}, {**base, "member": {"name": b"Lee"}}):
        assert fast_case(odd) is None  # not a JSON type: the fast path does not vouch for it
        assert validate_case(odd, "api") == pydantic_case(odd, "api", None)
    refused = {**base, "request": {**base["request"], "date": datetime(2026, 5, 1, 10)}}
    assert assert_agree(refused) == "refused"


def test_every_field_of_the_schema_is_required_or_defaults_as_in_the_pydantic_model():
    from pydantic import BaseModel

    from lemtrada_asp.case.model import Case
    from test_case_schema import _inner_types, _is_list

    def check(model: type[BaseModel], prefix: str = "") -> int:
        seen = 0
        for name, info in model.model_fields.items():
            field = FIELDS[prefix + name]
            assert info.is_required() == field.required, field.path
            assert info.is_required() or info.default == field.default, field.path
            seen += 1
            for inner in _inner_types(info.annotation):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    seen += check(inner, prefix + name + ("[]" if _is_list(info.annotation) else "") + ".")
        return seen

    assert check(Case) == sum(not path.endswith("[]") for path in FIELDS)


@given(mutations())
@budget(400)
def test_any_mutation_of_a_seed_case_gets_the_same_verdict(case):
    assert_agree(case)


@given(json_values)
@budget(200)
def test_any_json_value_gets_the_same_verdict(value):
    assert_agree(value)


@given(st.sampled_from(SEEDS), st.sampled_from(sorted(FIELDS)), json_values)
@budget(300)
def test_any_json_value_in_any_declared_field_gets_the_same_verdict(seed, path, value):
    case = copy.deepcopy(seed)
    target = case
    parts = path.replace("[]", "").split(".")
    for part in parts[:-1]:
        found = target.get(part) if isinstance(target, dict) else None
        if isinstance(found, list):
            found = found[0] if found and isinstance(found[0], dict) else None
        if not isinstance(found, dict):
            found = {}
            target[part] = found if not path.split(".")[len(parts) - 2].endswith("[]") else [found]
        target = found
    target[parts[-1]] = [value] if path.endswith("[]") else value
    assert_agree(case)
