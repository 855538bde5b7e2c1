"""The abstract input space and the analysis program, checked against the real decide path."""

from __future__ import annotations

import random
import shutil

import pytest
from click.testing import CliRunner

from conftest import KB_DIR
from lemtrada_asp.analysis.program import Program, outcome, read_source
from lemtrada_asp.cli import main
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.analysis.space import Space, build_space
from lemtrada_asp.analysis.suite import observed


@pytest.fixture(scope="module")
def shipped():
    source = read_source(KnowledgeBase(KB_DIR))
    space = build_space(source.mentions, source.kb.catalogue.params)
    return source, space, Program([source], space)


def random_assignments(space: Space, n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    found = []
    while len(found) < n:
        pick = {dim.name: rng.choice(dim.values).key for dim in space.dims}
        if not any(pick[a] == ka and pick[b] == kb for (a, ka), (b, kb) in space.conflicts):
            found.append(pick)
    return found


@pytest.mark.slow
def test_every_abstract_case_is_a_valid_case_file_that_lands_back_on_itself(shipped):
    _, space, _ = shipped
    for n, assignment in enumerate(random_assignments(space, 400, 1)):
        case = validate_case(space.witness(assignment, f"W-{n}"), "witness")
        assert space.locate(case) == assignment


@pytest.mark.slow
def test_the_analysis_program_decides_every_abstract_case_as_decide_does(shipped, engine):
    _, space, program = shipped
    assignments = random_assignments(space, 300, 2)
    # decide's side in chunks of 100 (one ground program each, as a batch is decided),
    # not one program per case: each case is still compared on its own below.
    cases = [("witness", validate_case(space.witness(a, f"W-{n}"), "witness")) for n, a in enumerate(assignments)]
    records = [r for at in range(0, len(cases), 100) for r in engine.decide(cases[at:at + 100])]
    assert [r.case_id for r in records] == [f"W-{n}" for n in range(len(assignments))]
    for assignment, record in zip(assignments, records, strict=True):
        model = program.model(program.assume(assignment))
        decided = observed(record.to_json())
        decided["failed"].sort()
        decided["missing"].sort()
        assert outcome(model, "a") == decided, assignment


def test_numbers_are_cut_at_the_parameters_of_both_kbs(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    params = kb / "parameters.lp"
    params.write_text(params.read_text().replace("param(min_age_initial, 18).", "param(min_age_initial, 21)."))
    both = read_source(KnowledgeBase(KB_DIR)).mentions | read_source(KnowledgeBase(kb)).mentions
    ages = [v.number for v in build_space(both, {}).dim("age").values if v.number is not None]
    assert {16, 17, 18, 19, 20, 21, 22} <= set(ages)


def test_two_kbs_in_one_program_keep_their_own_rules(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "state_mandates.lp").open("a") as f:
        f.write('state_mandate("TX", "I4").\n')
    sources = [read_source(KnowledgeBase(KB_DIR)), read_source(KnowledgeBase(kb))]
    space = build_space(sources[0].mentions | sources[1].mentions, sources[0].kb.catalogue.params)
    program = Program(sources, space)
    texas = {d.name: (d.preferred[0] if d.preferred else d.values[0].key) for d in space.dims}
    texas.update({"member.state": "TX", "dmt_history: natalizumab": "effective"})
    model = program.model(program.assume(texas))
    assert outcome(model, "a")["decision"] == "deny"
    assert (outcome(model, "b")["decision"], outcome(model, "b")["pend_reason"]) == ("pend", "state_mandate")


def test_a_constraint_that_leaves_some_cases_without_an_answer_is_found(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "hooks.lp").open("a") as f:
        f.write("\n:- age(K, A), A > 100.\n")
    result = CliRunner().invoke(main, ["check-kb", "--kb", str(kb)])
    assert result.exit_code == 1
    assert "rules the case out" in result.output and "age: 101 or more years" in result.output


@pytest.mark.slow
def test_the_space_covers_every_input_predicate_a_case_can_give():
    from lemtrada_asp.case.facts import case_symbols
    from lemtrada_asp.analysis.generate import generate_cases
    from lemtrada_asp.analysis.space import INPUT_PREDICATES

    given = {fact.name for case in generate_cases(2000, 9) for fact in case_symbols(0, validate_case(case, case["id"]))}
    assert given == set(INPUT_PREDICATES)


def test_generate_refuses_a_kb_without_the_parameters_it_places_cases_around(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    params = kb / "parameters.lp"
    params.write_text(params.read_text().replace("param(min_age_initial, 18).", ""))
    result = CliRunner().invoke(main, ["generate", "--n", "3", "--kb", str(kb)])
    assert result.exit_code == 3 and "min_age_initial" in result.output and "param/2 does not define" in result.output
