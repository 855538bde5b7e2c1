"""The condition vocabulary (criteria.md, "Condition vocabulary"): KB data, normalised text.

A denial rests only on words the knowledge base recognises: a condition text that
normalises to a term of kb/vocabulary.lp decides as that term; any other text leaves
I3 undocumented (the reason quotes it) and never triggers E2 or E3. Every decision
here goes through clingo with the shipped KB.
"""

from __future__ import annotations

import unicodedata

import clingo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import INITIAL, KB_DIR, vary
from lemtrada_asp.case.facts import normal_condition
from lemtrada_asp.case.model import validate_case


def _vocabulary() -> dict[str, str]:
    """condition_term/2 as the KB grounds it (the vocabulary file alone)."""
    ctl = clingo.Control()
    ctl.load(str(KB_DIR / "vocabulary.lp"))
    ctl.ground([("base", [])])
    return {
        a.symbol.arguments[0].string: a.symbol.arguments[1].name
        for a in ctl.symbolic_atoms.by_signature("condition_term", 2)
    }


VOCABULARY = _vocabulary()

# The spec's table, criteria.md "Condition vocabulary": the KB holds at least these.
SPEC_TERMS = {
    "ms": ["multiple_sclerosis", "ms", "disseminated_sclerosis"],
    "cis": ["clinically_isolated_syndrome", "cis"],
    "other": ["crohns_disease", "ulcerative_colitis", "rheumatoid_arthritis", "systemic_lupus_erythematosus",
              "psoriasis", "neuromyelitis_optica", "myasthenia_gravis", "chronic_lymphocytic_leukemia"],
}


def test_the_vocabulary_holds_every_term_of_the_spec_with_its_concept():
    for concept, terms in SPEC_TERMS.items():
        for term in terms:
            assert VOCABULARY.get(term) == concept, term


def test_every_term_of_the_vocabulary_is_written_normalised_so_it_can_match():
    assert {t for t in VOCABULARY if normal_condition(t) != t} == set()
    assert set(VOCABULARY.values()) <= {"ms", "cis", "other"}


@pytest.mark.parametrize(
    "text, normal",
    [
        ("MS", "ms"),
        ("Multiple Sclerosis", "multiple_sclerosis"),
        ("multiple -  _sclerosis", "multiple_sclerosis"),  # one run of separators, one underscore
        ("Crohn's disease", "crohns_disease"),
        ("Crohn\u2019s Disease", "crohns_disease"),  # typographic apostrophe
        ("M\u200bS", "ms"),  # zero-width space (Cf)
        ("\ufeffMS\u00ad", "ms"),  # BOM and soft hyphen (both Cf)
        ("\uff2d\uff33", "ms"),  # fullwidth letters: NFKC
        (" (MS). ", "ms"),  # outer whitespace and punctuation
        ("\u041cS", "\u043cs"),  # Cyrillic EM stays Cyrillic: no look-alike folding
        ("STRASSE", "strasse"),
        ("Stra\u00dfe", "strasse"),  # casefold, not lower
    ],
)
def test_normalisation_follows_the_spec_step_by_step(text, normal):
    assert normal_condition(text) == normal


def _statuses(engine, condition: str, **diagnosis) -> tuple[dict, dict]:
    case = validate_case(vary(INITIAL, {"diagnosis": {"condition": condition, **diagnosis}}), "t")
    [decision] = engine.decide([("t", case)], details=True)
    return decision.to_json(), decision.statuses()


@pytest.mark.parametrize("text", ["MS", "ms", "Multiple Sclerosis", "multiple-sclerosis", "M\u200bS", "\uff2d\uff33", "Disseminated sclerosis"])
def test_ms_written_any_recognised_way_is_multiple_sclerosis_and_approved(engine, text):
    decision, statuses = _statuses(engine, text, ms_course="relapsing_remitting", active=True)
    assert decision["decision"] == "approve"
    assert statuses["I3.a"] == "met" and statuses["E3"] == statuses["E2"] == "does_not_apply"


@pytest.mark.parametrize("text", ["Crohn's disease", "Crohn\u2019s Disease", "Rheumatoid Arthritis", "neuromyelitis-optica"])
def test_a_recognised_other_condition_is_excluded_by_e3(engine, text):
    decision, statuses = _statuses(engine, text)
    assert decision["decision"] == "deny" and [f["id"] for f in decision["failed"]] == ["I3", "E3"]


@pytest.mark.parametrize("text", ["CIS", "Clinically isolated syndrome"])
def test_a_cis_term_is_excluded_by_e2_not_e3(engine, text):
    decision, statuses = _statuses(engine, text)
    assert statuses["E2"] == "applies" and statuses["E3"] == "does_not_apply"
    assert decision["decision"] == "deny"


@pytest.mark.parametrize("text", ["multple sclerosis", "\u041cS", "sarcoidosis", "MS (suspected)", '"). decision(0, deny, none).', "..."])
def test_unrecognised_text_leaves_i3_undocumented_quoting_it_and_pends(engine, text):
    decision, statuses = _statuses(engine, text, ms_course="relapsing_remitting", active=True)
    assert (statuses["I3.a"], statuses["I3.b"]) == ("undocumented", "undocumented")
    assert statuses["E2"] == statuses["E3"] == "does_not_apply"
    assert (decision["decision"], decision["pend_reason"]) == ("pend", "information")
    [i3] = decision["missing"]
    because = [b for r in i3["reasons"] for b in r["because"]]
    assert because and all(text.replace('"', '\\"') in b and "not recognised" in b for b in because)


def test_the_letter_tells_the_member_the_name_was_not_recognised(engine):
    from lemtrada_asp.render.letters import render_letter

    case = validate_case(vary(INITIAL, {"diagnosis": {"condition": "multple sclerosis", "ms_course": "relapsing_remitting"}}), "t")
    [decision] = engine.decide([("t", case)], details=True, corrections=True)
    text = render_letter(decision, "text")
    assert '"multple sclerosis". We do not know this name' in " ".join(text.split())


# --- Hypothesis: the normalisation as a property of decisions ---------------------------

FORMAT_CHARS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SEPARATORS = [" ", "-", "_", "  ", " - ", "\t", "_-_", "\u2010"]


@st.composite
def spellings(draw, term: str) -> str:
    """Text that the spec's normalisation makes `term`: case, format characters,
    apostrophes, separator runs, fullwidth letters, outer whitespace and punctuation."""
    out = []
    for word_index, word in enumerate(term.split("_")):
        if word_index:
            out.append(draw(st.sampled_from(SEPARATORS)))
        for char in word:
            if draw(st.booleans()):
                char = char.upper()
            if draw(st.integers(0, 5)) == 0:
                char = chr(ord(char.upper()) - 0x41 + 0xFF21) if char.isalpha() else char  # fullwidth
            out.append(char)
            if draw(st.integers(0, 4)) == 0:
                out.append(draw(st.sampled_from(FORMAT_CHARS + ["'", "\u2019"])))
    lead = draw(st.text(alphabet=" \t.,;:!?()[]\"'-", max_size=3))
    trail = draw(st.text(alphabet=" \t.,;:!?()[]\"'-", max_size=3))
    return lead + "".join(out) + trail


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_text_that_normalises_to_a_term_decides_as_that_term(engine, data):
    term = data.draw(st.sampled_from(sorted(VOCABULARY)))
    text = data.draw(spellings(term))
    if len(text) > 200 or not text.strip():
        return
    assert normal_condition(text) == term, (text, term)
    got = _statuses(engine, text, ms_course="relapsing_remitting")
    expected = _statuses(engine, term, ms_course="relapsing_remitting")
    assert got[1] == expected[1]
    assert got[0]["decision"] == expected[0]["decision"]


@settings(max_examples=80, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(min_size=1, max_size=60) | st.sampled_from([t.replace("_", "") + "x" for t in VOCABULARY]))
def test_any_other_text_never_triggers_e2_or_e3(engine, text):
    if not text.strip() or "\x00" in text or normal_condition(text) in VOCABULARY:
        return
    decision, statuses = _statuses(engine, text, ms_course="relapsing_remitting", active=True)
    assert statuses["E2"] == statuses["E3"] == "does_not_apply"
    assert statuses["I3.a"] == statuses["I3.b"] == "undocumented"
    assert decision["decision"] == "pend"


def test_a_lookalike_letter_is_not_folded_into_latin():
    # NFKC does not map Cyrillic to Latin: the look-alike is a different word, not MS.
    assert unicodedata.name("\u041c") == "CYRILLIC CAPITAL LETTER EM"
    assert normal_condition("\u041cS") not in VOCABULARY
