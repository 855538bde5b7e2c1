"""Issue 23, findings 7-9: analyses that never over-claim.

Quotes that stay true (a rule that departs from the sentence above it is said
so until the KB records why), properties that see what the whole space shows
(an exclusion triggered by either of two inputs, the code tables on both
reviews, every case handled against the text's intent with a witness decide
confirms), exhaustive impact that follows counts through derived predicates or
says INCOMPLETE, and test expectations on any field of the decision.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import CASES_DIR, INITIAL, KB_DIR, vary
from workbench_changes import CHANGES, edited_kb
from lemtrada_asp.analysis.checks import against_intent, intent_text, run_checks
from lemtrada_asp.analysis.departures import departures, findings as departure_findings
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.analysis.impact import ImpactAnalysis
from lemtrada_asp.analysis.mutation import MutationReport, equivalence, run_mutation
from lemtrada_asp.analysis.program import read_source
from lemtrada_asp.analysis.properties import KbAnalysis
from lemtrada_asp.analysis.space import build_space
from lemtrada_asp.analysis.suiteprog import load_suite
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.cli import main
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.engine.policy import Policy

OVERLAYS = Path(__file__).resolve().parent / "fixtures" / "overlays"
REASON = "2027 reform: 11 months between courses"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def overlay(tmp_path: Path, name: str, parameters: dict[str, int], lp: str = "") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    lines = ["[overlay]", f'name = "{name}"', "", "[parameters]"] + [f"{k} = {v}" for k, v in parameters.items()]
    (folder / "overlay.toml").write_text("\n".join(lines) + "\n")
    if lp:
        (folder / "overlay.lp").write_text(lp + "\n")
    return folder


# --- finding 7: quotes that stay true -------------------------------------------------------------


def test_check_kb_no_longer_calls_a_kb_sound_without_a_word_when_min_age_initial_is_17(tmp_path):
    kb = edited_kb("age_17", tmp_path)
    result = run("check-kb", "--kb", str(kb))
    assert result.exit_code == 0, result.output  # a warning, not a problem
    assert "Sound: no problems found" not in result.output and "Sound, with 1 warning." in result.output
    line = next(l for l in result.output.splitlines() if "departs from the sentence" in l)
    assert "criteria/i2_age.lp:9: warning:" in line
    assert '"The member is 18 years of age or older"' in line and "min_age_initial = 17" in line and "says 18" in line


@pytest.mark.slow
def test_an_eleven_month_overlay_departs_from_its_quote_until_the_kb_records_why(tmp_path):
    kb = KnowledgeBase(KB_DIR, (OVERLAYS / "interval-11-months",))
    [warning] = departure_findings(kb)
    assert "c3_interval.lp:9" in warning.where and warning.severity == "warning"
    assert "min_months_since_last_dose = 11" in warning.message and "At least 12 months have passed" in warning.message
    reform = overlay(tmp_path, "reform", {"min_months_since_last_dose": 11},
                     f'departs_from("C3", min_months_since_last_dose, "{REASON}").')
    assert departure_findings(KnowledgeBase(KB_DIR, (reform,))) == []  # silenced only by the record
    shown = run("criteria", "--overlay", str(reform))
    assert f"departs from the text: min_months_since_last_dose = 11 where the sentence says 12; recorded: {REASON}" in shown.output
    listed = json.loads(run("criteria", "--overlay", str(reform), "--format", "json").output)
    c3 = next(c for c in listed["criteria"] if c["id"] == "C3")
    assert c3["departures"][0]["reason"] == REASON and c3["departures"][0]["value"] == 11


def test_the_shipped_kb_states_every_threshold_as_its_quotes_do_and_records_no_departure():
    assert departures(KnowledgeBase(KB_DIR)) == []
    assert '#include "departures.lp".' in (KB_DIR / "lemtrada.lp").read_text()
    assert departure_findings(KnowledgeBase(KB_DIR)) == []


@pytest.mark.slow
def test_every_threshold_a_quote_states_is_caught_when_shifted_by_one(tmp_path):
    params = KnowledgeBase(KB_DIR).catalogue.params
    caught = set()
    for name, value in params.items():
        folder = overlay(tmp_path, f"shift-{name}", {name: value + 1})
        if any(d.param == name for d in departures(KnowledgeBase(KB_DIR, (folder,)))):
            caught.add(name)
    # every parameter but the course number of case-by-case review, whose sentence says "beyond the initial two courses"
    assert caught == set(params) - {"case_by_case_from_course"}


def test_a_recorded_departure_that_no_longer_departs_is_itself_a_warning(tmp_path):
    stale = overlay(tmp_path, "stale", {}, 'departs_from("I2", min_age_initial, "from age 17").')
    [warning] = departure_findings(KnowledgeBase(KB_DIR, (stale,)))
    assert "records a departure, but the rule of I2 states what its quote says" in warning.message


# --- finding 7: properties that see what the whole space shows -------------------------------------


@pytest.fixture(scope="module")
def shipped():
    analysis = KbAnalysis(KB_DIR)
    checks = run_checks(analysis)
    props = analysis.properties()
    return analysis, checks, props, against_intent(analysis, checks, props)


def test_e5_cannot_be_enforced_on_continuation_because_it_rests_on_either_of_two_inputs(shipped, engine):
    _, checks, _, _ = shipped
    found = {c.message.split(" ")[0] + "/" + c.message.split("on the ")[1].split(" review")[0]: c for c in checks.of("unenforceable")}
    e5 = found["E5/continuation"]
    assert "applies only on hiv_positive or active_infections" in e5.message
    assert "hiv_positive" not in e5.witness and not e5.witness.get("active_infections")
    assert engine.decide([("w", validate_case(e5.witness, "w"))])[0].decision == "approve"
    # the input-by-input exclusions are still found
    assert {"E1/continuation", "E6/continuation", "E2/continuation"} <= set(found)


def test_inactive_spms_is_denied_at_continuation_with_its_own_code_g35_c2_and_approved_with_the_others(shipped, engine):
    _, checks, _, _ = shipped
    g35c2 = next(c for c in checks.of("code_table") if c.message.startswith("G35.C2") and "continuation review" in c.message)
    assert "refused by B1" in g35c2.message and g35c2.intent
    witness = g35c2.witness
    assert witness["diagnosis"]["ms_course"] == "secondary_progressive" and witness["diagnosis"]["active"] is False
    denied = engine.decide([("w", validate_case(witness, "w"))])[0]
    assert denied.review_type == "continuation" and denied.decision == "deny" and [f.id for f in denied.failed] == ["B1"]
    for code in ("G35", "G35.A", "G35.C1", "G35.D"):
        other = vary(witness, {"request.diagnosis_codes": [code]})
        assert engine.decide([("w", validate_case(other, "w"))])[0].decision == "approve", code


def test_properties_list_every_case_handled_against_intent_each_confirmed_by_a_real_decide_run(shipped):
    _, _, _, intents = shipped
    texts = [i.text for i in intents]
    assert any("G35.C2" in t and "continuation review" in t for t in texts)
    gap = next(i for i in intents if i.text.startswith("age 17 years on the initial review"))
    policy = Policy.load(KB_DIR)
    for item in intents:
        record = policy.decide(item.witness).to_json()
        failed = ", ".join(f["id"] for f in record["failed"])
        assert item.decided == f"{record['decision']}" + (f", failed: {failed}" if failed else "")
    aged = policy.decide(gap.witness)
    assert aged.decision == "deny" and [f.id for f in aged.failed] == ["I2"]  # 17: not excluded (E6), not approvable (I2)
    text = intent_text(intents)
    assert text.startswith(f"Cases handled against the policy text's intent ({len(intents)})") and "witness: {" in text


# --- finding 8: exhaustive impact through derived predicates ------------------------------------------

DERIVED = '''
% Edited: I4.c "two DMTs tried and failed", counted over a derived predicate.
qualified(K, D) :- dmt_trial(K, _, D, failed).
finding(K, "I4.c", met, dmt_trial(K, I, D, failed)) :-
    dmt_trial(K, I, D, failed), #count { D2 : qualified(K, D2) } >= 2.
finding(K, "I4.c", not_met, dmt_trial(K, I, D, O)) :-
    dmt_trial(K, I, D, O), #count { D2 : qualified(K, D2) } < 2.
finding(K, "I4.c", undocumented, absent("dmt_history")) :- case(K), not has_dmt_history(K).
has_dmt_history(K) :- dmt_trial(K, _, _, _).
'''
CHANGES["derived_count"] = [*CHANGES["two_failures_or_high_efficacy"][:2], ("criteria/i4_step_therapy.lp", None, DERIVED)]
CHANGES["derived_concurrent_count"] = [("exclusions.lp", None, '''
taken(K, D) :- concurrent_dmt(K, _, D).
finding(K, "E1", applies, concurrent_dmt(K, I, D)) :- concurrent_dmt(K, I, D), #count { X : taken(K, X) } >= 2.
''')]
TWO_UNNAMED = vary(INITIAL, {"id": "TWO-UNNAMED", "dmt_history": [
    {"drug": "natalizumab", "outcome": "effective"}, {"drug": "cladribine", "outcome": "failed"},
    {"drug": "siponimod", "outcome": "failed"}]})


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    kb = edited_kb("derived_count", tmp_path_factory.mktemp("derived"))
    analysis = ImpactAnalysis(KB_DIR, kb)
    return kb, analysis, analysis.run()


def _corpus(path: Path, count: int, seed: int) -> Path:
    with path.open("w") as out:
        for case in generate_cases(count, seed):
            out.write(json.dumps(case) + "\n")
        out.write(json.dumps(TWO_UNNAMED) + "\n")
    return path


def test_a_count_over_a_derived_predicate_grows_the_unnamed_dmt_slots(derived):
    _, analysis, impact = derived
    assert analysis.space.complete and impact.complete and impact.incomplete == []
    assert sum(d.name.startswith("dmt_history: another DMT") for d in analysis.space.dims) >= 3


def test_exhaustive_diff_of_a_derived_count_places_two_unnamed_failed_drugs_and_every_changed_case(derived, tmp_path):
    kb, analysis, impact = derived
    assert all(c.confirmed for c in impact.classes)
    placed = {p["case_id"]: p for p in analysis.classify([str(_corpus(tmp_path / "c.jsonl", 300, 23))], jobs=1)}
    changed = [p for p in placed.values() if p["changed"]]
    assert changed and all(p["class"] and not p["outside"] for p in changed), [p for p in changed if not p["class"]][:3]
    two = placed["TWO-UNNAMED"]
    cls = next(c for c in impact.classes if c.ident == two["class"])
    assert cls.transitions == [("deny", "approve")] and "I4 (edited): met" in cls.describe()
    policy = Policy.load(kb)
    assert policy.decide(TWO_UNNAMED).decision == "approve" and Policy.load(KB_DIR).decide(TWO_UNNAMED).decision == "deny"


@pytest.mark.slow
def test_exhaustive_diff_of_a_derived_count_places_every_changed_case_of_10000_generated_ones(derived, tmp_path):
    _, analysis, impact = derived
    placed = analysis.classify([str(_corpus(tmp_path / "c.jsonl", 10_000, 5))], jobs=2)
    changed = [p for p in placed if p["changed"]]
    assert impact.complete and len(changed) > 50
    assert all(p["class"] for p in changed), [p for p in changed if not p["class"]][:3]


def test_a_derived_count_over_a_list_the_space_cannot_grow_is_incomplete_with_the_rules_file_and_line(tmp_path):
    kb = edited_kb("derived_concurrent_count", tmp_path)
    source = read_source(KnowledgeBase(kb))
    space = build_space(source.mentions, source.kb.catalogue.params)
    lines = (kb / "exclusions.lp").read_text().splitlines()
    at = next(n for n, l in enumerate(lines, 1) if "#count { X : taken(K, X) }" in l)
    assert not space.complete and any(f"exclusions.lp:{at}: concurrent_dmt" in r for r in space.incomplete), space.incomplete
    result = run("diff", "--exhaustive", "--kb", str(kb))
    assert "The search is INCOMPLETE" in result.output and f"exclusions.lp:{at}" in result.output
    assert "The search is complete" not in result.output


def test_a_derived_count_too_large_for_the_known_dmts_is_incomplete_with_its_file_and_line(tmp_path):
    kb = edited_kb("derived_count", tmp_path)
    path = kb / "criteria" / "i4_step_therapy.lp"
    path.write_text(path.read_text().replace("#count { D2 : qualified(K, D2) } >= 2.", "#count { D2 : qualified(K, D2) } >= 40."))
    at = next(n for n, l in enumerate(path.read_text().splitlines(), 1) if ">= 40." in l)
    source = read_source(KnowledgeBase(kb))
    space = build_space(source.mentions, source.kb.catalogue.params)
    assert not space.complete and any(f"i4_step_therapy.lp:{at}: dmt_history" in r for r in space.incomplete), space.incomplete


# --- finding 9: expectations on any field of the decision ---------------------------------------------


def _suite(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "suite"
    folder.mkdir(exist_ok=True)
    for name in names:
        for path in CASES_DIR.glob(name + ".*"):
            shutil.copy(path, folder / path.name)
    return folder


def test_an_expectation_may_name_advisories_authorized_because_and_corrections(tmp_path):
    folder = _suite(tmp_path, ["an-adult-with-rrms-and-full-documentation-is-approved-for-60-mg",
                               "a-16-year-old-continuation-is-excluded-as-pediatric",
                               "a-continuation-one-day-short-of-twelve-months-after-the-last-dose-is-denied"])
    assert run("test", str(folder)).exit_code == 0
    adult = folder / "an-adult-with-rrms-and-full-documentation-is-approved-for-60-mg.expected.yaml"
    expected = yaml.safe_load(adult.read_text())
    assert "first 3 days of each treatment course" in expected["advisories"][0] and expected["authorized"]["days"] == 5
    expected["advisories"][0] = expected["advisories"][0].replace("first 3 days", "first 4 days")
    expected["review_type"] = "continuation"
    adult.write_text(yaml.safe_dump(expected))
    minor = folder / "a-16-year-old-continuation-is-excluded-as-pediatric.expected.yaml"
    minor.write_text(minor.read_text().replace("age 16", "age 15"))
    result = run("test", str(folder))
    assert result.exit_code == 1
    assert "advisories: expected" in result.output and "review_type: expected continuation, decided initial" in result.output
    assert "because of E6: expected" in result.output
    assert "2 failed" in result.output


def test_an_unknown_expectation_key_is_invalid_and_names_every_key_it_may_use(tmp_path):
    folder = _suite(tmp_path, ["an-adult-with-rrms-and-full-documentation-is-approved-for-60-mg"])
    path = folder / "an-adult-with-rrms-and-full-documentation-is-approved-for-60-mg.expected.yaml"
    path.write_text(path.read_text() + "advisory: []\n")
    result = run("test", str(folder))
    assert result.exit_code == 2 and "advisory" in result.output and "advisories" in result.output and "corrections" in result.output


def test_accept_rewrites_only_the_changed_cases_expected_files_after_showing_the_diff(tmp_path):
    names = ["a-17-year-old-on-a-first-course-is-denied-for-age-but-not-excluded",
             "an-adult-with-rrms-and-full-documentation-is-approved-for-60-mg"]
    folder = _suite(tmp_path, names)
    kb = edited_kb("age_17", tmp_path)
    before = {p.name: p.read_text() for p in folder.glob("*.expected.yaml")}
    assert run("test", str(folder), "--kb", str(kb)).exit_code == 1
    result = run("test", str(folder), "--kb", str(kb), "--accept")
    assert result.exit_code == 0, result.output
    assert "ACCEPTED" in result.output and "-decision: deny" in result.output and "+decision: approve" in result.output
    assert "1 accepted (expected files rewritten)" in result.output
    changed = folder / f"{names[0]}.expected.yaml"
    text = changed.read_text()
    assert text.splitlines()[0] == before[changed.name].splitlines()[0]  # its comment kept
    assert yaml.safe_load(text)["decision"] == "approve" and yaml.safe_load(text)["authorized_mg"] == 60
    assert (folder / f"{names[1]}.expected.yaml").read_text() == before[f"{names[1]}.expected.yaml"]
    assert run("test", str(folder), "--kb", str(kb)).exit_code == 0


def test_mutating_premedication_days_is_killed_by_approvals_that_expect_their_advisories():
    kb = KnowledgeBase(KB_DIR)
    report = run_mutation(kb, load_suite([str(CASES_DIR)], kb))
    shifted = [m for m in report.mutants if m.change.startswith("param(premedication_days, 3)")]
    assert len(shifted) == 2 and all(m.killed_by for m in shifted)
    assert "EX-001" in shifted[0].killed_by or any(k.startswith("EX-") for k in shifted[0].killed_by)


def test_a_parameter_only_a_text_states_is_never_called_equivalent(tmp_path):
    kb = KnowledgeBase(KB_DIR)
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "plain.json").write_text(json.dumps(INITIAL))
    (folder / "plain.expected.yaml").write_text("decision: approve\n")
    report = run_mutation(kb, load_suite([str(folder)], kb))
    mutant = next(m for m in report.survivors if m.change == "param(premedication_days, 3) -> 4")
    equivalence(kb, MutationReport([mutant], report.cases, report.seconds, 0))
    assert mutant.equivalent is False and "premedication_days" in mutant.note
