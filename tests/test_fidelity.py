"""Every statement true (issue 23): what a decision, an explanation and a letter say about
a case is true of that case.

One test (or a few) per finding of the issue, each failing before the change:
1. the last dose is the latest last day, and overlapping prior courses are an input error;
2. a course still running on the request date fails C3 and is worded as running;
3. entries that say none, and codes with foreign characters, are input errors; a format
   character in a code is removed;
4. Tyruko is natalizumab;
5. a request dated before the KB's effective date is decided, and said to be so;
6. letters: no markup in text, no case field that breaks a line, reasons that pass with
   time say when a new request can succeed, and every fact a letter states checked
   against the record for every example case and for generated ones.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from conftest import CASES_DIR, CONTINUATION, INITIAL, vary
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.case.dates import add_months, age_in_years, last_dose, months_since
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.cli import main
from lemtrada_asp.engine.errors import CaseValidationError
from lemtrada_asp.engine.loading import is_case_file
from lemtrada_asp.engine.policy import Policy
from lemtrada_asp.render.letters import FORMATS, render_letter

TAG = re.compile(r"</?(mark|p|br|strong|em|ul|li|h[1-6]|span|hr|a|html|body|div)\b[^<>]*>", re.I)  # HTML markup
EXAMPLES = sorted(p for p in CASES_DIR.iterdir() if is_case_file(p))
TODAY = date(2026, 5, 4)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def decide(policy: Policy, data: dict):
    return policy.decide(data, corrections=True, details=True)


def problems(data: dict) -> list:
    with pytest.raises(CaseValidationError) as raised:
        validate_case(data, "t")
    return raised.value.problems


def run(tmp_path, data: dict, *args: str):
    path = tmp_path / f"{data['id']}.json"
    path.write_text(json.dumps(data))
    return CliRunner().invoke(main, [*args, str(path)])


# --- 1. the last dose, and overlapping courses ---------------------------------------------


def test_two_overlapping_prior_courses_are_an_input_error_naming_both_entries():
    # [0] runs 2025-01-01..2025-01-30; [2] starts inside it: the latest start is not the last dose
    courses = [{"start_date": "2025-01-01", "days": 30}, {"start_date": "2024-01-01", "days": 5},
               {"start_date": "2025-01-05", "days": 3}]
    [problem] = problems(vary(CONTINUATION, {"lemtrada_courses": courses}))
    assert problem.field == "lemtrada_courses[2]"
    assert "lemtrada_courses[0]" in problem.message and "overlap" in problem.message


def test_a_course_starting_on_the_last_day_of_another_overlaps():
    courses = [{"start_date": "2024-03-01", "days": 5}, {"start_date": "2024-03-05", "days": 3}]
    [problem] = problems(vary(CONTINUATION, {"lemtrada_courses": courses}))
    assert problem.field == "lemtrada_courses[1]" and "lemtrada_courses[0]" in problem.message


def test_a_course_starting_the_day_after_another_ends_does_not_overlap_and_the_later_is_the_last_dose(policy):
    courses = [{"start_date": "2025-05-06", "days": 3}, {"start_date": "2025-05-01", "days": 5}]  # listed latest first
    d = decide(policy, vary(CONTINUATION, {"lemtrada_courses": courses}))
    assert [e.text for f in d.failed if f.id == "C3" for r in f.reasons for e in r.because] == [
        "lemtrada_courses[0]: last dose 2025-05-08; planned start 2026-05-01 is 11 full calendar months later"
    ]


def test_overlapping_courses_are_refused_by_decide_with_exit_status_2_naming_both(tmp_path):
    courses = [{"start_date": "2025-01-01", "days": 30}, {"start_date": "2025-01-05", "days": 3}]
    result = run(tmp_path, vary(CONTINUATION, {"lemtrada_courses": courses}), "decide")
    assert result.exit_code == 2
    assert "lemtrada_courses[1]" in result.output and "lemtrada_courses[0]" in result.output
    assert "Traceback" not in result.output


# --- 2. a course still running ----------------------------------------------------------------

RUNNING = vary(CONTINUATION, {
    "id": "T-RUNNING", "request.date": "2026-03-10",
    "lemtrada_courses": [{"start_date": "2025-03-01", "days": 5}, {"start_date": "2026-03-08", "days": 5}],
    "chart_date": "2026-03-01",
})


def test_a_course_still_running_on_the_request_date_fails_c3_and_is_worded_as_running(policy):
    d = decide(policy, RUNNING)
    data = d.to_json()
    assert d.statuses()["C3"] == "not_met" and data["decision"] == "deny"
    because = [b for f in data["failed"] if f["id"] == "C3" for r in f["reasons"] for b in r["because"]]
    assert len(because) == 1 and "the course that started 2026-03-08 runs until 2026-03-12" in because[0]
    assert not re.search(r"(?<![\w-])-\d", json.dumps(data))


def test_a_running_course_fails_c3_even_when_the_planned_start_is_a_year_after_it(policy):
    d = decide(policy, vary(RUNNING, {"request.start_date": "2027-04-01"}))
    assert d.statuses()["C3"] == "not_met"


def test_decide_explain_and_the_letter_say_the_course_runs_and_never_a_negative_interval(tmp_path):
    for args in (("decide",), ("decide", "--format", "json"), ("explain",), ("explain", "--format", "markdown"),
                 ("letter", "--format", "text", "--date", "2026-03-11")):
        result = run(tmp_path, RUNNING, *args)
        assert result.exit_code == 0, (args, result.output)
        out = result.stdout
        assert not re.search(r"(?<![\w-])-\d", out), args
        assert "last dose 2026-03-12" not in out and "-1 full calendar" not in out
        if args[0] == "letter":
            flat = " ".join(out.split())
            assert "Your course of Lemtrada that started on March 8, 2026 runs until March 12, 2026." in flat
            assert "Your last dose of Lemtrada was on" not in flat
            assert "A new course that starts on or after March 12, 2027" in flat
        else:
            assert "runs until 2026-03-12" in out, args


# --- 3. entries that say none, and codes ------------------------------------------------------


@pytest.mark.parametrize("entry", ["None.", "None known", "N.A.", "(none)", "\u2014", "\u2013", "-", "\u2212", "\u2015", "--", "negative", "NIL",
                                   "No active infections.", "Not applicable", "[unknown]", "n / a", "Denies", "..."])
def test_an_entry_that_says_none_is_an_input_error_naming_the_entry(entry):
    [problem] = problems(vary(INITIAL, {"active_infections": ["pneumonia", entry]}))
    assert problem.field == "active_infections[1]" and "says there is none" in problem.message


def test_an_entry_that_says_none_is_refused_by_decide_never_worded_as_an_infection(tmp_path):
    result = run(tmp_path, vary(INITIAL, {"active_infections": ["None."]}), "decide")
    assert result.exit_code == 2 and "active_infections[0]" in result.output
    assert "DENY" not in result.output


@pytest.mark.parametrize("entry", ["no known cause pneumonia", "negative pressure wound infection", "Nonesuch fever"])
def test_an_infection_whose_words_merely_start_like_none_is_still_an_infection(policy, entry):
    d = decide(policy, vary(INITIAL, {"active_infections": [entry]}))
    assert {f.id for f in d.failed} == {"I5", "E5"}


@pytest.mark.parametrize("code", ["None", "N/A", "unknown", "\u2014"])
def test_a_diagnosis_code_that_says_none_is_an_input_error_not_a_code_failing_b1(code):
    [problem] = problems(vary(INITIAL, {"request.diagnosis_codes": [code]}))
    assert problem.field == "request.diagnosis_codes[0]"


@pytest.mark.parametrize("code", ["G35.A\u200b", "\u200bG35A", " g35.a\u2060", "\uff27\uff13\uff15.A"])
def test_a_code_with_a_format_character_or_a_full_width_letter_is_the_table_2_code(policy, code):
    assert decide(policy, vary(INITIAL, {"request.diagnosis_codes": [code]})).statuses()["B1"] == "met"


@pytest.mark.parametrize("code", ["G35.\u0410", "\u0413\u0417\u0405", "G35 A", "G35-A", "G35.A;"])
def test_a_code_with_a_character_outside_a_z_0_9_and_dot_is_an_input_error_naming_the_entry(code):
    [problem] = problems(vary(INITIAL, {"request.diagnosis_codes": ["G35", code]}))
    assert problem.field == "request.diagnosis_codes[1]" and "not an ICD-10 code" in problem.message


# --- 4. Tyruko -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Tyruko", "tyruko", "natalizumab-sztn", "Natalizumab-SZTN"])
def test_tyruko_the_natalizumab_biosimilar_is_natalizumab(policy, name):
    d = decide(policy, vary(INITIAL, {"dmt_history": [{"drug": name, "outcome": "failed"},
                                                       {"drug": "fingolimod", "outcome": "failed"}]}))
    assert d.decision == "approve" and d.statuses()["I4.a"] == "met"


# --- 5. a request dated before the effective date -------------------------------------------


def test_the_policy_says_whether_it_is_in_force_on_a_cases_request_date(policy):
    assert policy.effective_date == date(2026, 4, 1)
    assert policy.in_force(validate_case(INITIAL, "t"))
    early = decide(policy, vary(INITIAL, {"request.date": "2026-03-31", "chart_date": "2026-03-01"}))
    assert not policy.in_force(early) and not policy.in_force(early.case)
    assert policy.in_force(decide(policy, vary(INITIAL, {"request.date": "2026-04-01", "chart_date": "2026-03-01"})))


def test_decide_counts_the_cases_dated_before_the_effective_date_on_standard_error_and_still_decides_them(tmp_path):
    lines = [vary(INITIAL, {"id": f"E-{n}", "request.date": day, "chart_date": "2026-03-01"})
             for n, day in enumerate(["2026-03-02", "2026-05-01", "2026-03-31", "2026-04-01"])]
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in lines))
    result = CliRunner().invoke(main, ["decide", "--format", "json", str(path)])
    assert result.exit_code == 0
    assert [json.loads(line)["decision"] for line in result.stdout.splitlines()] == ["approve"] * 4
    assert "2 cases were dated before 2026-04-01" in result.stderr and "--versions" in result.stderr


@pytest.mark.parametrize("command", [("decide",), ("explain",), ("letter", "--format", "text")])
def test_every_command_says_a_single_case_was_dated_before_the_effective_date(tmp_path, command):
    early = run(tmp_path, vary(INITIAL, {"request.date": "2026-03-02", "chart_date": "2026-03-01"}), *command)
    assert early.exit_code == 0 and "1 case was dated before 2026-04-01" in early.stderr and "--versions" in early.stderr
    in_force = run(tmp_path, INITIAL, *command)
    assert in_force.exit_code == 0 and "dated before" not in in_force.stderr


# --- 6. letters -------------------------------------------------------------------------------------

HEADINGS_OF_THE_TEMPLATE = re.compile(r"^#{1,3} ")


def test_a_text_letter_carries_no_markup_and_prints_placeholders_plainly(policy):
    letter = render_letter(decide(policy, INITIAL), "text", TODAY)
    assert not TAG.search(letter) and "[missing: plan phone]" in letter


@pytest.mark.parametrize("output_format", ["markdown", "text"])
def test_a_member_name_with_line_breaks_cannot_print_a_line_of_its_own(policy, output_format):
    name = "Ann Lee\n**Decision: APPROVED**\r\n# We approve Lemtrada for you\u2028x\x07"
    letter = render_letter(decide(policy, vary(INITIAL, {"member.name": name, "member.birth_date": "2010-01-01"})),
                           output_format, TODAY)
    lines = [line.strip() for line in letter.splitlines()]
    assert "**Decision: APPROVED**" not in lines and "Decision: APPROVED" not in lines
    assert not any(line.startswith("# We approve") for line in lines)
    assert not any(c in letter for c in "\r\x07\u2028")
    assert "Ann Lee\\n" in letter


def test_a_condition_text_with_a_line_break_cannot_become_a_heading_in_a_pend_letter(policy):
    d = decide(policy, vary(INITIAL, {"diagnosis.condition": "x\n# We approve Lemtrada for you"}))
    assert d.decision == "pend"
    letter = render_letter(d, "markdown", TODAY)
    assert not any(line.startswith("# We approve") for line in letter.splitlines())
    assert [line for line in letter.splitlines() if line.startswith("# ")] == ["# We need more information to decide on Lemtrada"]


def test_an_infection_only_denial_says_a_new_request_can_follow_once_the_infection_has_cleared(policy):
    d = decide(policy, vary(INITIAL, {"active_infections": ["herpes zoster"]}))
    assert {f.id for f in d.failed} == {"I5", "E5"}
    letter = " ".join(render_letter(d, "text", TODAY).split())
    assert "Sending more records would not change them" not in letter
    assert "Once the infection has cleared up (resolved), your doctor can send a new request." in letter


def test_a_course_too_recent_says_from_which_day_a_new_course_can_meet_the_interval(policy):
    d = decide(policy, vary(CONTINUATION, {"lemtrada_courses": [{"start_date": "2025-06-01", "days": 5}]}))
    letter = " ".join(render_letter(d, "text", TODAY).split())
    assert "On June 5, 2026, 12 months will have passed since your last dose." in letter  # 2025-06-05 + 12 months


def test_a_running_course_alone_is_never_offered_a_later_start_as_a_step_to_approval(policy):
    # a later planned start cannot make C3 met while the last course runs: only a new request can
    d = decide(policy, vary(RUNNING, {"id": "T-RUN-ONLY", "lemtrada_courses": [{"start_date": "2026-03-08", "days": 5}]}))
    assert [f.id for f in d.failed] == ["C3"] and d.corrections  # the what-if still lists C3 for the reviewer
    letter = " ".join(render_letter(d, "text", TODAY).split())
    assert "These steps could lead to approval" not in letter and "Sending more records would not change them" not in letter
    assert "Your doctor can send a new request for it once your course has ended." in letter


def test_hiv_is_not_said_to_pass_with_time(policy):
    d = decide(policy, vary(INITIAL, {"hiv_positive": True}))
    letter = " ".join(render_letter(d, "text", TODAY).split())
    assert "Sending more records would not change them" in letter and "When your doctor can ask again" not in letter


# --- 6. every letter of every example case and of generated cases, checked against its record ---

MONTHS = "January February March April May June July August September October November December".split()
LONG_DATE = re.compile(r"\b(" + "|".join(MONTHS) + r") (\d{1,2}), (\d{4})")
NEGATIVE = re.compile(r"(?<![\w-])-\d")


def dates_in(text: str) -> list[date]:
    return [date(int(y), MONTHS.index(m) + 1, int(d)) for m, d, y in LONG_DATE.findall(text)]


def found_sentences(letter: str) -> list[str]:
    """The "What we found:" paragraphs of a text letter, each on one line."""
    return [" ".join(p.split())[len("What we found: "):] for p in letter.split("\n\n") if p.startswith("What we found:")]


def check_letter(decision, letters: dict[str, str]) -> None:
    """Each fact a letter states about the case, against the decision record and its case."""
    case = decision.case
    received = case.request.date
    courses = case.lemtrada_courses or []
    last = max((last_dose(c.start_date, c.days) for c in courses), default=None)
    text = letters["text"]
    assert not TAG.search(text), ("markup in a text letter", TAG.search(text))
    for name, letter in letters.items():
        assert not NEGATIVE.search(letter), (name, NEGATIVE.search(letter))
    for sentence in found_sentences(text):
        assert "[missing" not in sentence, sentence
        for day in dates_in(sentence):
            assert day <= received or (day == case.planned_start and "would start on" in sentence) or (
                "runs until" in sentence and day == last), (sentence, received)
        if m := re.search(r"You were (\d+) on the day", sentence):
            assert int(m.group(1)) == age_in_years(case.member.birth_date, received)
        if m := re.search(r"Your last dose of Lemtrada was on ([^.]+, \d{4})\. The new course would start on ([^,]+, \d{4}), (\d+) full", sentence):
            [dose], [start] = dates_in(m.group(1)), dates_in(m.group(2))
            assert dose == last < received and start == case.planned_start
            assert int(m.group(3)) == months_since(last, start)
        if "runs until" in sentence:
            assert last is not None and last >= received and dates_in(sentence)[-1] == last
        if m := re.search(r"an infection right now \((.*)\)\.", sentence):
            assert m.group(1) in (case.active_infections or []), sentence
        if m := re.search(r"The newest notes from your doctor are from ([^.]+, \d{4})", sentence):
            assert dates_in(m.group(1)) == [case.chart_date]
    flat = " ".join(text.split())
    if m := re.search(r"On ([A-Z][a-z]+ \d+, \d{4}), (\d+) months will have passed since your last dose", flat):
        assert dates_in(m.group(1)) == [add_months(last, decision.params["min_months_since_last_dose"])]
    for name in ("markdown", "text"):
        heads = [line for line in letters[name].splitlines() if HEADINGS_OF_THE_TEMPLATE.match(line)]
        assert all(not any(ch in line for ch in "\"()") or line.startswith("### ") for line in heads), heads


def letters_of(decision) -> dict[str, str]:
    return {fmt: render_letter(decision, fmt, TODAY) for fmt in FORMATS}


def test_every_letter_of_every_example_case_states_only_what_its_record_holds(policy):
    kinds = set()
    for path in EXAMPLES:
        d = policy.decide(str(path), corrections=True, details=True)
        kinds.add((d.decision, d.pend_reason))
        check_letter(d, letters_of(d))
    assert {("approve", None), ("deny", None), ("pend", "information"), ("pend", "case_by_case")} <= kinds


def edge_variants(cases: list[dict]) -> list[dict]:
    """Generated cases with the facts that pass with time put in: a course still running,
    one a month too recent, an infection."""
    out = []
    for n, case in enumerate(cases):
        case = json.loads(json.dumps(case, default=str))
        day = date.fromisoformat(case["request"]["date"])
        if case.get("lemtrada_courses") and n % 3 == 0:
            case["lemtrada_courses"] = [{"start_date": str(day - timedelta(days=n % 5)), "days": 5},
                                        {"start_date": str(add_months(day, -14)), "days": 3}]
        elif case.get("lemtrada_courses") and n % 3 == 1:
            case["lemtrada_courses"] = [{"start_date": str(add_months(day, -11)), "days": 3}]
        elif n % 4 == 0:
            case["active_infections"] = ["herpes zoster"]
        out.append(case)
    return out


def check_generated(policy, n: int, seed: int) -> int:
    cases = list(generate_cases(n, seed)) + edge_variants(list(generate_cases(n // 2, seed + 1)))
    checked = 0
    for result in policy.decide_many(cases, corrections=True, details=True):
        assert not isinstance(result, Exception), result
        letters = {fmt: render_letter(result, fmt, TODAY) for fmt in ("text", "markdown")}
        check_letter(result, letters)
        checked += 1
    return checked


def test_the_letters_of_some_generated_cases_state_only_what_their_records_hold(policy):
    assert check_generated(policy, 120, 23) == 180


@pytest.mark.slow
def test_the_letters_of_a_few_thousand_generated_cases_state_only_what_their_records_hold(policy):
    assert check_generated(policy, 1400, 24) == 2100
