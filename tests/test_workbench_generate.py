"""`generate` and lemtrada_asp.generate: valid, reproducible cases near the decision boundaries."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from click.testing import CliRunner

from conftest import KB_DIR
from lemtrada_asp.analysis.program import read_source
from lemtrada_asp.cli import main
from lemtrada_asp.case.dates import age_in_years
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.analysis.space import build_space

PARAMS = KnowledgeBase(KB_DIR).catalogue.params


def test_the_same_seed_gives_byte_identical_output_and_another_seed_does_not(tmp_path):
    runner = CliRunner()
    first = runner.invoke(main, ["generate", "--n", "300", "--seed", "7"])
    second = runner.invoke(main, ["generate", "--n", "300", "--seed", "7", "--out", str(tmp_path / "c.jsonl")])
    other = runner.invoke(main, ["generate", "--n", "300", "--seed", "8"])
    assert first.exit_code == second.exit_code == other.exit_code == 0
    assert first.output.encode() == (tmp_path / "c.jsonl").read_bytes()
    assert first.output != other.output
    assert len(first.output.splitlines()) == 300


def test_every_generated_case_is_valid_and_ids_are_unique():
    cases = list(generate_cases(3000, 1, params=PARAMS))
    for case in cases:
        validate_case(json.loads(json.dumps(case)), case["id"])
    assert len({c["id"] for c in cases}) == 3000


def test_the_corpus_spans_every_decision_and_mostly_sits_near_a_boundary(engine):
    cases = [validate_case(c, c["id"]) for c in generate_cases(1000, 2, params=PARAMS)]
    decisions = Counter()
    for start in range(0, len(cases), 200):
        for decision in engine.decide([(c.id, c) for c in cases[start:start + 200]]):
            data = decision.to_json()
            decisions[(data["decision"], data["pend_reason"])] += 1
    assert {("approve", None), ("deny", None), ("pend", "information"), ("pend", "case_by_case")} <= set(decisions)
    assert decisions[("approve", None)] < 500  # most cases carry a perturbation that matters


def test_ages_are_placed_around_the_kbs_own_age_thresholds():
    edited = {**PARAMS, "min_age_initial": 21}
    def ages(params):
        return Counter(
            age_in_years(date.fromisoformat(c["member"]["birth_date"]), date.fromisoformat(c["request"]["date"]))
            for c in generate_cases(3000, 3, params=params) if c.get("member", {}).get("birth_date")
        )
    shipped, moved = ages(PARAMS), ages(edited)
    # each edge (threshold - 1, threshold, threshold + 1) is where cases pile up
    assert shipped[18] > 2 * moved[18]
    assert moved[21] > 2 * shipped[21]


def test_generated_cases_stay_inside_the_abstract_space_of_the_exhaustive_analysis():
    space = build_space(read_source(KnowledgeBase(KB_DIR)).mentions, PARAMS)
    outside = [c["id"] for c in generate_cases(2000, 4, params=PARAMS) if space.locate(validate_case(c, c["id"])) is None]
    assert outside == []


def test_generate_needs_n_and_explains_it():
    result = CliRunner().invoke(main, ["generate"])
    assert result.exit_code == 2 and "--n" in result.output
    assert "--seed" in CliRunner().invoke(main, ["generate", "--help"]).output
