"""Text in a case is data: no string in a free-text field can change a decision.

Each hostile string replaces a harmless value in one free-text field; the
decision (and every criterion's status) must equal the harmless case's, or, where
the case format restricts the text (NUL, length, state codes, ids), the case is
refused with the field named.
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import INITIAL, vary
from hostile_checks import TALLY, check_result, counted, report_to
from lemtrada_asp.engine.batch import Options, decide_records
from lemtrada_asp.case.facts import normal_condition
from lemtrada_asp.engine.loading import Record
from lemtrada_asp.case.model import ID_PATTERN, normal_code, validate_case
from lemtrada_asp.engine.errors import CaseValidationError
from test_vocabulary import VOCABULARY

CODE = re.compile(r"[A-Z0-9.]+")  # what a normalised code may hold (criteria.md, "Codes")

HOSTILE = [
    '"). decision(0, approve, none). #show.',
    "x. :- case(K).",
    "#show decision/3. #external a.",
    "a\nb\r\nc",
    "back\\slash\\\" quote",
    "100% %s %d {} {0}",
    "#program base. case(99).",
    "' OR 1=1; --",
    "x" * 200,
]

# A condition text the vocabulary does not know pends (I3 undocumented): hostile text in
# that field must do the same, never be recognised as a condition.
HARMLESS = {
    "diagnosis.condition": "unlisted_condition",
    "active_infections": ["pneumonia"],
    "request.diagnosis_codes": ["G37.9"],
}


def hostile_variant(field: str, text: str):
    value = [text[:20]] if field == "request.diagnosis_codes" else [text] if field == "active_infections" else text
    return vary(INITIAL, {field: value})


@pytest.mark.slow
@pytest.mark.parametrize("field", list(HARMLESS))
@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_string_decides_like_a_harmless_one(decide, statuses, field, text):
    harmless = vary(INITIAL, {field: HARMLESS[field]})
    hostile = hostile_variant(field, text)
    if field == "request.diagnosis_codes" and not CODE.fullmatch(normal_code(text[:20])):
        # criteria.md "Codes": a code holding a character outside A-Z, 0-9 and '.' is an input error
        with pytest.raises(CaseValidationError) as raised:
            validate_case(hostile, "t")
        assert [p.field for p in raised.value.problems] == ["request.diagnosis_codes[0]"]
        return
    expected, got = decide(harmless), decide(hostile)
    assert got["decision"] == expected["decision"] == ("pend" if field == "diagnosis.condition" else "deny")
    assert [f["id"] for f in got["failed"]] == [f["id"] for f in expected["failed"]]
    assert statuses(hostile) == statuses(harmless)


def test_hostile_text_comes_back_quoted_in_the_explanation(decide):
    got = decide(vary(INITIAL, {"diagnosis.condition": 'bad"). x'}))
    because = [b for f in got["missing"] for r in f["reasons"] for b in r["because"]]
    assert 'diagnosis.condition: "bad\\"). x" is not recognised (not a term of the condition vocabulary)' in because


@pytest.mark.parametrize("field", list(HARMLESS))
def test_a_nul_character_is_refused_because_clingo_strings_would_end_there(field):
    from lemtrada_asp.engine.errors import CaseValidationError
    from lemtrada_asp.case.model import validate_case

    with pytest.raises(CaseValidationError, match="NUL"):
        validate_case(hostile_variant(field, "multiple_sclerosis\x00x"), "t")


# --- every free-text field, through the readers, with hypothesis -------------------
#
# The tests above go straight to the model. These write the case out as JSON and as
# YAML and decide it the way the CLI does, for all five free-text fields, including
# the two whose text the model restricts (member.state, id): there a hostile string
# must be refused with the field named, never decided differently.

FIELDS = {  # field -> (harmless value, how a text goes in)
    "diagnosis.condition": ("unlisted_condition", lambda t: t),
    "active_infections": ("pneumonia", lambda t: [t]),
    "request.diagnosis_codes": ("G37.9", lambda t: [t]),
    "member.state": ("TX", lambda t: t),
    "id": ("T-INITIAL", lambda t: t),
}
TRICKS = HOSTILE + ["\x00", "multiple_sclerosis\x00", "%", "#show", ":-", "#show.", "a :- b.", "\\", '"', "\n", "x" * 201, "x" * 100_000]


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    before = TALLY.copy()
    yield
    report_to(request.config, "hostile text (test_hostile_text.py)", before)


def through_the_readers(engine, case: dict, as_yaml: bool):
    text = yaml.safe_dump(case, allow_unicode=True) if as_yaml else json.dumps(case)
    record = Record("t.yaml" if as_yaml else "t.json", text, as_yaml)
    [result] = counted(lambda: list(decide_records(engine, [record], options=Options(details=True))))
    check_result(result, set(engine.catalogue.criteria))
    return result


def same_decision(a, b) -> bool:
    keep = lambda r: (r.decision["decision"], r.decision["pend_reason"], [f["id"] for f in r.decision["failed"]],  # noqa: E731
                      [m["id"] for m in r.decision["missing"]], r.statuses)
    return keep(a) == keep(b)


_HARMLESS: dict = {}


def expect_same_or_refused(engine, field: str, text: str, as_yaml: bool) -> str:
    harmless, put = FIELDS[field]
    if (field, as_yaml) not in _HARMLESS:
        _HARMLESS[field, as_yaml] = through_the_readers(engine, vary(INITIAL, {field: put(harmless)}), as_yaml)
    expected = _HARMLESS[field, as_yaml]
    got = through_the_readers(engine, vary(INITIAL, {field: put(text)}), as_yaml)
    if got.ok:
        assert same_decision(got, expected), (field, text)
        return "decided"
    problems = got.error["problems"]
    assert {p["field"] for p in problems} <= {field, f"{field}[0]"}, problems
    assert len(got.error_text) < 500  # a long text is cut, not echoed whole
    return "refused"


def decides_otherwise(field: str, text: str) -> bool:
    """Text the policy itself tells apart from the harmless value: the one thing allowed to differ."""
    if field == "diagnosis.condition":
        return normal_condition(text) in VOCABULARY
    if field == "request.diagnosis_codes":
        return normal_code(text) in {"G35", "G35.A", "G35.C1", "G35.D"}
    return False


@pytest.mark.slow
@pytest.mark.parametrize("as_yaml", [False, True], ids=["json", "yaml"])
@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("text", TRICKS, ids=lambda t: repr(t[:12]))
def test_a_trick_string_in_any_free_text_field_decides_like_a_harmless_one_or_is_refused(engine, field, text, as_yaml):
    outcome = expect_same_or_refused(engine, field, text, as_yaml)
    too_long = len(text) > (20 if field == "request.diagnosis_codes" else 200)
    if "\x00" in text or too_long or field == "member.state" or (field == "id" and not ID_PATTERN.fullmatch(text)):
        assert outcome == "refused"  # NUL, over-long text, a state that is none, an id outside its pattern


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_nul_in_any_free_text_field_is_refused_naming_the_field(engine, field):
    got = through_the_readers(engine, vary(INITIAL, {field: FIELDS[field][1]("TX\x00")}), as_yaml=False)
    assert not got.ok and got.error["problems"][0]["field"] in {field, f"{field}[0]"}


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=250) | st.sampled_from(TRICKS), as_yaml=st.booleans())
@pytest.mark.parametrize("field", list(FIELDS))
def test_any_text_in_a_free_text_field_decides_like_a_harmless_one_or_is_refused(engine, field, text, as_yaml):
    if decides_otherwise(field, text):
        return
    expect_same_or_refused(engine, field, text, as_yaml)


def test_a_state_is_read_whatever_its_case_and_surrounding_space(engine):
    for written in ["tx", " Tx ", "TX\n"]:
        assert through_the_readers(engine, vary(INITIAL, {"member.state": written}), as_yaml=False).ok


def test_a_lookalike_state_code_is_not_a_state(engine):
    # Cyrillic "Т" and "Х" look like TX; normalisation must not make them a state
    lookalike = "\u0422\u0425"
    assert unicodedata.name(lookalike[0]).startswith("CYRILLIC")
    got = through_the_readers(engine, vary(INITIAL, {"member.state": lookalike}), as_yaml=False)
    assert not got.ok and got.error["problems"][0]["field"] == "member.state"
