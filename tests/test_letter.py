"""Letters: the content a UM notice must carry, for a deny, a pend and an approve; every
example case in every format; and the member part's reading level, measured.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
from datetime import date

import jinja2
import pytest
import textstat
from click.testing import CliRunner

from conftest import CASES_DIR, CONTINUATION, DELETE, INITIAL, KB_DIR, vary
from lemtrada_asp.cli import main
from lemtrada_asp.engine.policy import Policy
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.render.letters import member_text, render_letter, wording
from lemtrada_asp.engine.loading import is_case_file

EXAMPLES = sorted(p for p in CASES_DIR.iterdir() if is_case_file(p))
TODAY = date(2026, 5, 4)
WORDS = wording()
# Abbreviations the member part may use, each with the words that explain it there.
EXPLAINED = {
    "MS": "multiple sclerosis (MS)",
    "HIV": "HIV (human immunodeficiency virus)",
    "MRI": "brain scan (MRI)",
    "REMS": "special safety program (called REMS)",
    "TTY": "trouble hearing or speaking, call TTY",
    "ID": "member ID card",
    "ERISA": "Employee Retirement Income Security Act (ERISA)",
}


def decided(tmp_path, data, kb=KB_DIR):
    path = tmp_path / f"{data['id']}.json"
    path.write_text(json.dumps(data))
    return Policy.load(kb).decide(str(path), corrections=True, details=True)


def member_part(letter: str) -> str:
    return letter.split("Dear Member,", 1)[1].split("## For the prescriber", 1)[0]


def prescriber_part(letter: str) -> str:
    return letter.split("## For the prescriber", 1)[1]


def criterion_words(ident: str, field: str) -> str:
    return WORDS["criteria"][ident][field].replace("{{ p.min_age_initial }}", "18")


# --- a denial ---------------------------------------------------------------------


@pytest.fixture
def denial(tmp_path):
    # 17 years old (I2 not met, no exclusion) and natalizumab effective (I4.a not met, actionable).
    case = vary(INITIAL, {"id": "L-DENY", "member.birth_date": "2009-01-01",
                          "dmt_history": [{"drug": "natalizumab", "outcome": "effective"},
                                          {"drug": "fingolimod", "outcome": "failed"}]})
    return render_letter(decided(tmp_path, case), "markdown", today=TODAY)


def test_a_denial_is_a_draft_with_a_reviewer_sign_off(denial):
    assert denial.startswith("> **DRAFT - NOT YET SIGNED.")
    assert "## Reviewer sign-off" in denial
    assert "This notice is a DRAFT until a clinical reviewer signs it." in denial
    assert "Reviewer name: ___" in denial and "Signature: ___" in denial


def test_a_denial_names_each_failed_criterion_with_guideline_section_and_revision(denial):
    member = member_part(denial)
    for ident, section in (("I2", "Initial criteria, 2"), ("I4", "Initial criteria, 4")):
        assert criterion_words(ident, "title") in member
        assert f'The Lemtrada (Alemtuzumab) clinical guideline, section "{section}". It was last changed on April 1, 2026.' in member


def test_a_denial_gives_the_reason_in_the_members_own_facts(denial):
    member = member_part(denial)
    assert "You were 17 on the day we got the request." in member
    assert "Your records say natalizumab (Tysabri, Tyruko) worked for you." in member


def test_a_denial_says_what_could_lead_to_approval_only_where_it_can_be_changed(tmp_path, denial):
    # I2 (age) is not actionable, so no set of corrections is: no promise is made.
    assert "Sending more records would not change them." in member_part(denial)
    only_trial = vary(INITIAL, {"id": "L-TRIAL", "dmt_history": [{"drug": "natalizumab", "outcome": "effective"},
                                                                 {"drug": "fingolimod", "outcome": "failed"}]})
    letter = render_letter(decided(tmp_path, only_trial), "markdown", today=TODAY)
    assert "These steps could lead to approval:\n\n- " + WORDS["criteria"]["I4.a"]["fix"] in letter


def test_a_denial_offers_the_criteria_free_and_explains_appeal_and_expedited_appeal(denial):
    member = member_part(denial)
    assert "You can ask for a free copy of the rules we used." in member
    assert "## Your right to appeal" in member
    assert "You must ask within 60 days of the date on this letter." in member
    assert "ask for a fast appeal. This is also called an expedited appeal. We will answer within 72 hours after we get your appeal." in member


def test_the_member_part_has_no_criterion_ids_billing_codes_or_unexplained_abbreviations(denial, tmp_path):
    letters = [denial] + [render_letter(decided(tmp_path, vary(c, {"id": f"L-{i}"})), "markdown", today=TODAY)
                          for i, c in enumerate([INITIAL, CONTINUATION, vary(INITIAL, {"hiv_positive": True})])]
    for letter in letters:
        member = member_part(letter)
        assert not re.search(r"\b[ICBE]\d(\.[a-z]+)*\b", member)  # criterion ids
        assert not re.search(r"\b(G35|J0202|ICD|HCPCS|CPT)", member)  # billing codes
        for abbreviation in set(re.findall(r"\b[A-Z]{2,}\b", member)):
            assert abbreviation in EXPLAINED, abbreviation
            assert EXPLAINED[abbreviation] in member, abbreviation


def test_the_prescriber_part_gives_criterion_ids_codes_and_case_facts(denial):
    part = prescriber_part(denial)
    assert "- I2 Member is 18 years of age or older: not met [Initial criteria, 2]" in part
    assert "because member.birth\\_date 2009-01-01: age 17 on request.date 2026-05-01" in part
    assert "I4.a Natalizumab (Tysabri) tried and failed, or unable to use: not met" in part
    assert "**ICD-10 diagnosis codes on the request:** G35.A" in part
    assert "I2 the member is 18 years of age or older (not actionable) + I4.a" in part
    assert "Peer-to-peer review" in part


def test_an_exclusion_is_named_as_the_plan_not_covering_the_use(tmp_path):
    letter = render_letter(decided(tmp_path, vary(INITIAL, {"id": "L-PP", "diagnosis.ms_course": "primary_progressive"})),
                           "markdown", today=TODAY)
    member = member_part(letter)
    assert criterion_words("E4", "title") in member
    assert 'section "Experimental or investigational, 4"' in member
    assert "Your records say you have primary progressive MS." in member


# --- a pend -------------------------------------------------------------------------


def test_a_pend_lists_exactly_the_documentation_requested(tmp_path):
    case = vary(INITIAL, {"id": "L-PEND", "chart_date": DELETE, "member.birth_date": DELETE,
                          "dmt_history": [{"drug": "natalizumab", "outcome": "failed"}]})
    letter = render_letter(decided(tmp_path, case), "markdown", today=TODAY)
    needed = member_part(letter).split("## What we need\n\n", 1)[1].split("\n\n## ", 1)[0]
    words = {i: WORDS["criteria"][i]["needed"].replace("{{ p.initial_chart_months }}", "3")
             for i in ("I0", "I2", "I4.b.i", "I4.b.ii", "I4.b.iii")}
    titles = {i: criterion_words(i, "title") for i in ("I0", "I2", "I4")}
    # each document requested, and the rule it would settle (the record's missing criterion)
    assert needed.splitlines()[:7] == [
        f"- {words['I0']} This is for the rule \"{titles['I0']}\".",
        f"- {words['I2']} This is for the rule \"{titles['I2']}\".",
        f"- One of these. This is for the rule \"{titles['I4']}\".",
        f"  - {words['I4.b.i']}",
        f"  - {words['I4.b.ii']}",
        f"  - {words['I4.b.iii']}",
        "",
    ]
    # and the date by which it is needed, from the line of business (here the default)
    assert needed.splitlines()[7] == (
        "Please have your doctor send them within 14 days of the date on this letter. That is by May 18, 2026. "
        "If we do not get them in time, we will decide with the records we have."
    )
    assert "We need more information to decide on Lemtrada" in letter
    assert "appeal" not in member_part(letter)  # nothing was decided against the member


def test_a_state_mandate_pend_explains_the_state_review(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "state_mandates.lp").open("a") as f:
        f.write('state_mandate("TX", "I4").\n')
    case = vary(INITIAL, {"id": "L-TX", "dmt_history": [{"drug": "natalizumab", "outcome": "effective"},
                                                        {"drug": "fingolimod", "outcome": "failed"}]})
    letter = render_letter(decided(tmp_path, case, kb), "markdown", today=TODAY)
    assert "Your state has its own law about step therapy." in member_part(letter)
    assert "Your records say natalizumab (Tysabri, Tyruko) worked for you." in member_part(letter)


# --- an approval ----------------------------------------------------------------------


def test_an_approval_states_the_course_units_and_advisories(tmp_path):
    letter = render_letter(decided(tmp_path, vary(INITIAL, {"id": "L-OK"})), "markdown", today=TODAY)
    member, prescriber = member_part(letter), prescriber_part(letter)
    assert "One course of Lemtrada: 12 mg a day for 5 days in a row. That is 60 mg in all." in member
    params = Policy.load(KB_DIR).catalogue.params
    for text in WORDS["advisories"].values():
        assert jinja2.Template(text).render(p=params) in member
    assert "- One course: 12 mg/day on 5 consecutive days, 60 mg in all." in prescriber
    assert "- HCPCS J0202: 60 units." in prescriber
    assert "- Premedicate with corticosteroids before infusion on the first 3 days of each treatment course." in prescriber
    continuation = render_letter(decided(tmp_path, vary(CONTINUATION, {"id": "L-OK2"})), "markdown", today=TODAY)
    assert "- HCPCS J0202: 36 units." in continuation


# --- every example, every format; escaping; the command ------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name.rsplit(".", 1)[0] for p in EXAMPLES])
def test_a_letter_is_drafted_for_every_example_case_in_every_format(path, tmp_path):
    for fmt in ("markdown", "html", "text"):
        out = tmp_path / f"letter.{fmt}"
        result = CliRunner().invoke(main, ["letter", str(path), "--format", fmt, "--out", str(out), "--date", "2026-05-04"])
        assert result.exit_code == 0, result.output
        text = out.read_text(encoding="utf-8")
        assert "DRAFT - NOT YET SIGNED" in text and "May 4, 2026" in text
    assert "<!DOCTYPE html>" in (tmp_path / "letter.html").read_text()


def test_case_text_is_escaped_in_html_and_markdown(tmp_path):
    case = vary(INITIAL, {"id": "L-ESC", "active_infections": ["<b>flu</b> *now*"]})
    decision = decided(tmp_path, case)
    html = render_letter(decision, "html", today=TODAY)
    assert "&lt;b&gt;flu&lt;/b&gt; *now*" in html and "<b>flu" not in html
    markdown = render_letter(decision, "markdown", today=TODAY)
    assert "\\<b\\>flu\\</b\\> \\*now\\*" in markdown


def test_letter_prints_to_standard_output_and_reports_an_unwritable_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(INITIAL))
    printed = CliRunner().invoke(main, ["letter", str(path), "--format", "text"])
    assert printed.exit_code == 0 and "We approved Lemtrada for you\n============================" in printed.output
    (tmp_path / "blocked").write_text("a file, not a folder")
    refused = CliRunner().invoke(main, ["letter", str(path), "--out", str(tmp_path / "blocked" / "x.md")])
    assert refused.exit_code == 4 and "cannot write" in refused.output  # an I/O error (issue 10)


def test_every_criterion_exclusion_and_advisory_has_member_wording():
    catalogue = KnowledgeBase(KB_DIR).catalogue
    assert set(catalogue.criteria) - set(WORDS["criteria"]) == set()
    assert {i for i, _ in catalogue.advisories} - set(WORDS["advisories"]) == set()
    for ident, criterion in catalogue.criteria.items():
        assert WORDS["criteria"][ident].get("title") and WORDS["criteria"][ident].get("rule"), ident
        if criterion.needed:
            assert WORDS["criteria"][ident].get("needed"), ident


# --- reading level ------------------------------------------------------------------------


def reading_text(decision) -> str:
    """The member part, each line counted as at least one sentence (a heading is one unit)."""
    lines = [line.strip() for line in member_text(decision, TODAY).splitlines() if line.strip()]
    return " ".join(line if line[-1] in ".!?:" else line + "." for line in lines)


@pytest.mark.slow
def test_every_example_letter_reads_at_or_below_an_eighth_grade_level(capsys):
    grades, smog = {}, {}
    for path in EXAMPLES:
        text = reading_text(Policy.load(KB_DIR).decide(str(path), corrections=True, details=True))
        grades[path.name] = textstat.flesch_kincaid_grade(text)
        smog[path.name] = textstat.smog_index(text)
    too_hard = {name: grade for name, grade in grades.items() if grade > 8.0}
    assert too_hard == {}
    with capsys.disabled():
        print(
            f"\nreadability (test_letter.py): {len(grades)} letters, member part: Flesch-Kincaid grade "
            f"mean {statistics.mean(grades.values()):.1f}, max {max(grades.values()):.1f}; "
            f"SMOG mean {statistics.mean(smog.values()):.1f}, max {max(smog.values()):.1f}"
        )
