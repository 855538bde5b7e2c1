"""Text in a case is data: no string in a free-text field can change a decision.

Each hostile string replaces a harmless value in one free-text field; the
decision (and every criterion's status) must equal the harmless case's.
"""

from __future__ import annotations

import pytest

from conftest import INITIAL, vary

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

HARMLESS = {
    "diagnosis.condition": "crohns_disease",
    "active_infections": ["pneumonia"],
    "request.diagnosis_codes": ["G37.9"],
}


def hostile_variant(field: str, text: str):
    value = [text[:20]] if field == "request.diagnosis_codes" else [text] if field == "active_infections" else text
    return vary(INITIAL, {field: value})


@pytest.mark.parametrize("field", list(HARMLESS))
@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_string_decides_like_a_harmless_one(decide, statuses, field, text):
    harmless = vary(INITIAL, {field: HARMLESS[field]})
    hostile = hostile_variant(field, text)
    expected, got = decide(harmless), decide(hostile)
    assert got["decision"] == expected["decision"] == "deny"
    assert [f["id"] for f in got["failed"]] == [f["id"] for f in expected["failed"]]
    assert statuses(hostile) == statuses(harmless)


def test_hostile_text_comes_back_quoted_in_the_explanation(decide):
    got = decide(vary(INITIAL, {"diagnosis.condition": 'bad"). x'}))
    because = [b for f in got["failed"] for r in f["reasons"] for b in r["because"]]
    assert 'diagnosis.condition: "bad\\"). x"' in because


@pytest.mark.parametrize("field", list(HARMLESS))
def test_a_nul_character_is_refused_because_clingo_strings_would_end_there(field):
    from lemtrada_asp.errors import CaseValidationError
    from lemtrada_asp.model import validate_case

    with pytest.raises(CaseValidationError, match="NUL"):
        validate_case(hostile_variant(field, "multiple_sclerosis\x00x"), "t")
