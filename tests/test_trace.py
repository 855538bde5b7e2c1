"""Traceability (analysis/trace.py): every rule's policy sentence, checked against the policy text.

The shipped KB quotes every sentence that states a criterion; `check-kb` fails, with
the file and line, on a KB whose quote was altered or whose sentence lost its quote;
`criteria` and `criteria --matrix` list what the KB encodes, on the shipped KB and on
an edited one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import KB_DIR, REPO
from lemtrada_asp.analysis.trace import covers, findings, normalise, read_trace
from lemtrada_asp.cli import main
from lemtrada_asp.engine.knowledge import KnowledgeBase

SOURCE = KB_DIR / "source" / "lemtrada-clinical-guideline.txt"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def edited(tmp_path: Path, file: str, old: str, new: str) -> Path:
    kb = tmp_path / "kb"
    if not kb.exists():
        shutil.copytree(KB_DIR, kb)
    path = kb / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new))
    return kb


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def trace():
    return read_trace(KnowledgeBase(KB_DIR))


def test_the_shipped_kb_quotes_every_sentence_that_states_a_criterion(trace):
    assert trace.problems() == []
    assert trace.unquoted_criteria() == []
    assert all(q.line is not None for q in trace.quotes)


def test_the_sentences_that_state_a_criterion_are_the_items_bullets_openers_notes_and_captions(trace):
    texts = [s.text for s in trace.statements]
    assert "The member is 18 years of age or older" in texts  # initial item 2, its "; AND" dropped
    assert "Relapsing-remitting (RRMS)" in texts  # item 3.a, its "; or" dropped
    assert "Pain/numbness/tingling" in texts  # continuation item 2.b.vii
    assert "Use in pediatric members under 17 years of age." in texts  # an exclusion bullet, its first sentence
    assert any(t.startswith("If the above reauthorization criteria are met") for t in texts)
    assert any(t.startswith("The Plan may consider authorizing additional treatment courses") for t in texts)  # NOTE 5
    assert any(t.startswith("ICD-10 diagnosis codes considered medically necessary") for t in texts)  # Table 2's caption
    # not the summary, the definitions or the references
    assert not any("chronic, inflammatory" in t or "Bainbridge" in t or "Compendia" in t for t in texts)
    lines = {s.text: s.line for s in trace.statements}
    assert SOURCE.read_text().splitlines()[lines["The member is 18 years of age or older"] - 1].startswith("2. The member is 18")


def test_normalising_drops_whitespace_and_emphasis_only():
    assert normalise(" - i. *First course: 12 mg/day*\n on  5 days^[s]") == "- i. First course: 12 mg/day on 5 days"
    assert covers("The member is 18 years of age or older", "The member is 18 years of age or older")
    assert not covers("The member is 17 years of age or older", "The member is 18 years of age or older")
    assert not covers("Fatigue and more", "Fatigue")  # a short sentence is covered only by a quote inside it


@pytest.mark.slow
def test_check_kb_fails_with_file_and_line_when_a_quote_is_altered(tmp_path):
    kb = edited(tmp_path, "criteria/i2_age.lp", 'quotes("I2", "The member is 18 years of age or older").',
                'quotes("I2", "The member is at least 18 years old").')
    result = run("check-kb", "--kb", kb)
    assert result.exit_code == 1, result.output
    line = line_of(kb / "criteria" / "i2_age.lp", 'quotes("I2"')
    assert f"{kb / 'criteria' / 'i2_age.lp'}:{line}: problem: the quoted sentence is not in the policy text" in result.output
    assert '"The member is at least 18 years old"' in result.output
    # and the sentence it used to quote is now unquoted, at its line of the policy text
    assert f"{kb / 'source' / 'lemtrada-clinical-guideline.txt'}:90: problem: this sentence states a criterion but no rule quotes it" in result.output


def test_a_sentence_declared_not_formalised_needs_no_rule(tmp_path):
    kb = edited(tmp_path, "exclusions.lp", 'quotes("E6", "Use in pediatric members under 17 years of age.").', "")
    problems = [f for f in findings(KnowledgeBase(kb)) if f.severity == "problem"]
    assert [p.message.split(": ")[-1] for p in problems] == ['"Use in pediatric members under 17 years of age."']
    assert problems[0].where.endswith("lemtrada-clinical-guideline.txt:158")
    kb = edited(tmp_path, "exclusions.lp", 'finding(K, "E6"', 'not_formalised("E6", "Use in pediatric members under 17 years of age.", "a test").\nfinding(K, "E6"')
    assert [f for f in findings(KnowledgeBase(kb)) if f.severity == "problem"] == []


def test_criteria_lists_every_criterion_with_its_kind_parameters_and_sentences():
    result = run("criteria", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    entries = {e["id"]: e for e in data["criteria"]}
    assert set(entries) == set(KnowledgeBase(KB_DIR).catalogue.criteria)
    i2 = entries["I2"]
    assert (i2["kind"], i2["section"], i2["parameters"]) == ("leaf", "Initial criteria, 2", {"min_age_initial": 18})
    assert [s["text"] for s in i2["sentences"]] == ["The member is 18 years of age or older"]
    rule_file, rule_line = i2["sentences"][0]["rule"].rsplit(":", 1)
    assert 'quotes("I2"' in (REPO / rule_file if not Path(rule_file).is_absolute() else Path(rule_file)).read_text().splitlines()[int(rule_line) - 1]
    assert entries["I4"]["kind"] == "all-of" and entries["I3"]["kind"] == "any-of" and entries["E1"]["kind"] == "exclusion"
    assert entries["I7"]["not_formalised"][0]["text"].startswith("OR is supported by compendia")
    assert {"advisory(rems)", "pend_rule(case_by_case)"} <= {o["subject"] for o in data["other"]}


def test_criteria_on_an_overlay_knows_at_least_n():
    result = run("criteria", "--format", "json", "--overlay", REPO / "tests" / "fixtures" / "overlays" / "two-or-more-preferred-dmts")
    entries = {e["id"]: e for e in json.loads(result.output)["criteria"]}
    assert entries["I4"]["kind"] == "at-least-2-of" and entries["I4"]["children"] == ["I4.a", "I4.b.i", "I4.b.ii", "I4.b.iii"]
    assert "I4.b" not in entries


@pytest.mark.slow
def test_criteria_on_an_edited_kb_with_an_edited_policy_text(tmp_path):
    kb = edited(tmp_path, "source/lemtrada-clinical-guideline.txt", "2. The member is 18 years of age or older",
                "2. The member is 17 years of age or older")
    kb = edited(tmp_path, "parameters.lp", "param(min_age_initial, 18).", "param(min_age_initial, 17).")
    kb = edited(tmp_path, "criteria/i2_age.lp", '"The member is 18 years', '"The member is 17 years')
    assert [f for f in findings(KnowledgeBase(kb)) if f.severity == "problem"] == []
    text = run("criteria", "--kb", kb).output
    assert "I2  Member is 17 years of age or older" in text and '"The member is 17 years of age or older"' in text
    for fmt in ("markdown", "html"):
        out = run("criteria", "--kb", kb, "--format", fmt).output
        assert "The member is 17 years of age or older" in out
    assert "<table>" in out


def test_the_matrix_links_sentence_criterion_rule_cases_and_letter():
    result = run("criteria", "--matrix", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["sentence"]: r for r in json.loads(result.output)["matrix"]}
    age = rows["The member is 18 years of age or older"]
    assert age["criteria"] == ["I2"] and age["policy_line"] == 90
    quoted_at = line_of(KB_DIR / "criteria" / "i2_age.lp", 'quotes("I2"')
    assert age["rules"][0].endswith(f"i2_age.lp:{quoted_at}")
    assert set(age["cases"]["I2"]) == {"met", "not_met", "undocumented"}
    assert "a-17-year-old-on-a-first-course-is-denied-for-age-but-not-excluded.yaml" in age["cases"]["I2"]["not_met"]
    assert "criteria.I2.rule" in age["letter"]
    rems = next(r for r in rows.values() if r["criteria"] == ["advisory(rems)"])
    assert rems["letter"] == ["advisories.rems"]
    markdown = run("criteria", "--matrix", "--format", "markdown").output
    assert "| 90 | The member is 18 years of age or older | I2 |" in markdown
    assert "<table>" in run("criteria", "--matrix", "--format", "html").output
