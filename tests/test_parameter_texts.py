"""Every text that states a threshold takes it from its parameter (kb/parameters.lp).

Three checks: no raw text of the KB or of the member wording writes a parameter's
value as a literal number; the issue's reproductions (an edited age, chart window
and interval between courses show the new number in every output); and every
numeric parameter, set to a value no output otherwise contains, reaches the
outputs that state it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import CASES_DIR, CONTINUATION, INITIAL, KB_DIR, vary
from lemtrada_asp import Policy
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.render.explain import as_text as explain_text, tree
from lemtrada_asp.render.letters import render_letter
from lemtrada_asp.render.text import as_text

WORDING = Path(__file__).resolve().parent.parent / "lemtrada_asp" / "render" / "templates" / "member_wording.yaml"
NUMBER = re.compile(r"(?<![\w.{-])\d+(?![\w.}])")  # a number standing alone, not in an id, code or placeholder


def params() -> dict[str, int]:
    return dict(KnowledgeBase(KB_DIR).catalogue.params)


def raw_kb_texts() -> list[tuple[str, str]]:
    """Every text fact of the KB before its placeholders are filled: (where, text)."""
    ctl, _ = KnowledgeBase(KB_DIR).control()
    ctl.ground([("base", [])])
    texts = []
    for name, arity, index in (("criterion", 3, 1), ("needed", 2, 1), ("change_text", 2, 1), ("advisory", 2, 1)):
        for atom in ctl.symbolic_atoms.by_signature(name, arity):
            texts.append((f"{name}({atom.symbol.arguments[0]})", atom.symbol.arguments[index].string))
    return texts


def raw_wording_texts() -> list[tuple[str, str]]:
    found = []

    def walk(value, where):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{where}.{key}")
        elif isinstance(value, str):
            found.append((where, value))

    walk(yaml.safe_load(WORDING.read_text()), "member_wording")
    return found


def test_no_text_writes_a_parameter_value_as_a_literal_number():
    values = {v for v in params().values()}
    offending = [
        (where, text) for where, text in raw_kb_texts() + raw_wording_texts()
        for number in NUMBER.findall(re.sub(r"Table \d", "Table", text)) if int(number) in values
    ]
    assert offending == []


def edited(tmp_path: Path, name: str, value: int) -> Path:
    kb = tmp_path / f"kb-{name}-{value}"
    shutil.copytree(KB_DIR, kb)
    path = kb / "parameters.lp"
    text, count = re.subn(rf"param\({name}, \d+\)\.", f"param({name}, {value}).", path.read_text())
    assert count == 1, name
    path.write_text(text)
    return kb


def outputs(kb: Path, cases: list[dict]) -> str:
    """Everything a person reads about the cases: decision text and JSON, explanation, letter.

    The cases are decided together (decide_many: one ground program per chunk, as a batch
    is), not one program each: a tenth of the time, and the same records but for their
    source, which numbers them "<case N>"; ``sources_free_of`` checks no such number can be
    mistaken for a parameter's value.
    """
    policy = Policy.load(kb)
    parts = []
    for d in policy.decide_many(cases, corrections=True, details=True):
        assert not isinstance(d, Exception), d
        data = d.to_json()
        parts += [json.dumps(data), as_text(data), explain_text(tree(d), unicode=False),
                  render_letter(d, "markdown"), render_letter(d, "text")]
    return "\n".join(parts)


def test_an_edited_minimum_age_is_stated_everywhere(tmp_path):
    kb = edited(tmp_path, "min_age_initial", 17)
    teen = vary(INITIAL, {"member.birth_date": "2009-06-01"})  # 16 on the request date: fails I2
    text = outputs(kb, [teen])
    assert "I2  Member is 17 years of age or older" in text
    assert "the member is 17 years of age or older" in text  # the correction
    assert "You must be 17 or older." in text  # the letter
    assert "18 years" not in text and "be 18 or older" not in text


def test_an_edited_chart_window_is_stated_everywhere(tmp_path):
    kb = edited(tmp_path, "continuation_chart_months", 7)
    stale = vary(CONTINUATION, {"chart_date": "2025-09-01"})  # 8 months before the request
    text = outputs(kb, [stale])
    assert "Recent chart documentation (within the last 7 months)" in text
    assert "chart notes dated within 7 months before the request" in text
    assert "6 months" not in text


def test_an_edited_interval_between_courses_is_stated_everywhere(tmp_path):
    kb = edited(tmp_path, "min_months_since_last_dose", 11)
    soon = vary(CONTINUATION, {"lemtrada_courses": [{"start_date": "2025-08-01", "days": 5}]})
    text = outputs(kb, [soon])
    assert "At least 11 months since the last dose of Lemtrada" in text
    assert "a planned start at least 11 months after the last dose of Lemtrada" in text
    assert "at least 11 months must pass" in text.lower()
    assert "12 months" not in text


def example_cases() -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted(CASES_DIR.glob("*.yaml")) if ".expected." not in p.name]


def many_courses(prior: int) -> dict:
    """A continuation with `prior` earlier courses, a year or more apart."""
    courses = [{"start_date": f"{2025 - i}-01-05", "days": 3} for i in range(prior)]
    return vary(CONTINUATION, {"id": f"T-COURSES-{prior}", "lemtrada_courses": courses})


# A sentinel must be a value some case reaches: the course number is bounded by the
# 100-entry list limit, so it gets a small one (checked absent from the base outputs),
# above the number of cases decided together (77), whose sources count them.
SENTINELS = {"case_by_case_from_course": 88}


@pytest.fixture(scope="module")
def base_outputs() -> str:
    """The shipped KB's outputs of the first three example cases, which every parameter's test
    below checks its sentinel is absent from: made once, not once per parameter."""
    return outputs(KB_DIR, example_cases()[:3])


def sources_free_of(sentinel: int, count: int) -> None:
    """decide_many names its cases "<case 1>" to "<case {count}>": none may read as the sentinel."""
    assert sentinel > count, f"the sentinel {sentinel} could be a case number in the source: pick another"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(params()))
def test_every_numeric_parameter_reaches_the_outputs_that_state_it(tmp_path, name, base_outputs):
    sentinel = SENTINELS.get(name, 4000 + sorted(params()).index(name))  # in no date, id or other output
    cases = example_cases() + [INITIAL, CONTINUATION] + ([many_courses(sentinel - 1)] if name in SENTINELS else [])
    assert not re.search(rf"(?<!\d){sentinel}(?!\d)", base_outputs)
    sources_free_of(sentinel, len(cases))
    assert re.search(rf"(?<!\d){sentinel}(?!\d)", outputs(edited(tmp_path, name, sentinel), cases))
