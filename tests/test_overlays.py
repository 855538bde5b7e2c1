"""Overlays (engine/overlay.py): a rule change as a few lines on top of the shipped KB.

The seven changes of issue 11 are overlays in tests/fixtures/overlays/. Each is compared with the
same change made the old way, on a full edited copy of kb/: on the example cases
and a generated corpus, ``diff`` must find exactly the same changed cases. The two
step-therapy reforms written with at_least(N) are decided, explained and corrected
through clingo.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES_DIR, INITIAL, KB_DIR, REPO, vary
from lemtrada_asp.analysis.changes import compare
from lemtrada_asp.engine.batch import Options, decide_paths
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.cli import main
from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.engine.errors import KnowledgeBaseError
from lemtrada_asp.engine.knowledge import KbRef, KnowledgeBase
from lemtrada_asp.engine.policy import Policy

OVERLAYS = REPO / "tests" / "fixtures" / "overlays"


def copy_with(tmp_path: Path, name: str, edits: list[tuple[str, str | None, str]]) -> Path:
    """A full copy of kb/ with text edits (file, old or None to append, new): the old way."""
    kb = tmp_path / f"copy-{name}"
    shutil.copytree(KB_DIR, kb)
    for file, old, new in edits:
        path = kb / file
        text = path.read_text()
        if old is None:
            text = text.rstrip("\n") + "\n" + new + "\n"
        else:
            assert old in text, f"{old!r} not in {file}"
            text = text.replace(old, new)
        path.write_text(text)
    return kb


FULL_COPIES = {
    "age-17": [("parameters.lp", "param(min_age_initial, 18).", "param(min_age_initial, 17).")],
    "no-natalizumab": [("catalogue.lp", 'child("I4", ("I4.a"; "I4.b")).', 'child("I4", "I4.b").')],
    "texas-mandate": [("state_mandates.lp", None, 'state_mandate("TX", "I4").')],
    "chart-12-months": [("parameters.lp", "param(initial_chart_months, 3).", "param(initial_chart_months, 12).")],
    "interval-11-months": [("parameters.lp", "param(min_months_since_last_dose, 12).", "param(min_months_since_last_dose, 11).")],
    "two-or-more-preferred-dmts": [
        ("catalogue.lp", 'node("I4", all_of).\nchild("I4", ("I4.a"; "I4.b")).',
         'node("I4", at_least(2)).\nchild("I4", ("I4.a"; "I4.b.i"; "I4.b.ii"; "I4.b.iii")).'),
        ("catalogue.lp", 'node("I4.b", any_of).\nchild("I4.b", ("I4.b.i"; "I4.b.ii"; "I4.b.iii")).\n', ""),
        ("catalogue.lp", 'criterion("I4.b", "One oral DMT tried and failed, or unable to use", "Initial criteria, 4.b").\n', ""),
    ],
    "two-dmts-or-high-efficacy": [
        ("catalogue.lp", 'node("I4", all_of).', 'node("I4", any_of).'),
        ("catalogue.lp", 'node("I4.b", any_of).', 'node("I4.b", at_least(2)).'),
    ],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[str]:
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in generate_cases(200, 7, params=KnowledgeBase(KB_DIR).catalogue.params)))
    return [str(CASES_DIR), str(path)]


def results(kb, paths) -> list:
    return list(decide_paths(paths, Engine(KnowledgeBase(kb)), options=Options(details=True)))


@pytest.fixture(scope="module")
def base_results(corpus) -> list:
    return results(KB_DIR, corpus)


def changes(base: list, kb, paths) -> list[dict]:
    """What `diff` reports (analysis/changes.py compare), case by case, against the base's results."""
    found = []
    for before, after in zip(base, results(kb, paths), strict=True):
        assert before.source == after.source and before.ok and after.ok
        change = compare(before, after)
        if change is not None:
            found.append(change.as_json())
    return found


def test_every_overlay_is_a_few_lines():
    for name in FULL_COPIES:
        lines = [line for f in (OVERLAYS / name).iterdir() for line in f.read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith(("#", "%"))]
        assert len(lines) <= 10, (name, lines)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FULL_COPIES))
def test_an_overlay_diffs_exactly_like_a_full_edited_copy(tmp_path, corpus, base_results, name):
    by_overlay = changes(base_results, KbRef(KB_DIR, [OVERLAYS / name]), corpus)
    by_copy = changes(base_results, copy_with(tmp_path, name, FULL_COPIES[name]), corpus)
    assert by_overlay, f"{name} changes no case of the corpus: the comparison would prove nothing"
    assert by_overlay == by_copy


def test_an_overlaid_kb_reopens_from_its_reference_in_another_process():
    import pickle

    kb = KnowledgeBase(KB_DIR, [OVERLAYS / "age-17"])
    again = KnowledgeBase(pickle.loads(pickle.dumps(kb.ref)))  # what a --jobs worker is given
    assert again.version == kb.version and again.catalogue.params["min_age_initial"] == 17


def test_the_overlay_has_its_own_version_and_the_base_is_untouched():
    base = KnowledgeBase(KB_DIR)
    versions = {KnowledgeBase(KB_DIR, [OVERLAYS / n]).version for n in FULL_COPIES}
    assert len(versions) == len(FULL_COPIES) and base.version not in versions
    assert KnowledgeBase(KB_DIR).version == base.version


# --- the at_least reforms, through clingo ----------------------------------------------


def policy(name: str) -> Policy:
    return Policy(Engine(KnowledgeBase(KB_DIR, [OVERLAYS / name])))


def trials(*pairs: tuple[str, str]) -> dict:
    return vary(INITIAL, {"dmt_history": [{"drug": d, "outcome": o} for d, o in pairs]})


def correction_sets(decision) -> set[frozenset[str]]:
    return {frozenset(c.id for c in changes) for changes in decision.corrections or ()}


def test_two_or_more_preferred_dmts_counts_any_two_of_the_four():
    p = policy("two-or-more-preferred-dmts")
    assert p.catalogue.info("I4").kind == "at_least(2)"
    assert p.decide(trials(("natalizumab", "failed"), ("teriflunomide", "contraindicated"))).decision == "approve"
    assert p.decide(trials(("dimethyl_fumarate", "failed"), ("fingolimod", "intolerant"))).decision == "approve"
    # one failure and every other drug effective: fewer than two can still be met
    one = p.decide(trials(("natalizumab", "failed"), ("dimethyl_fumarate", "effective"), ("fingolimod", "effective"),
                          ("teriflunomide", "effective")), corrections=True)
    assert one.decision == "deny" and [f.id for f in one.failed] == ["I4"]
    assert {r.id for r in one.failed[0].reasons} == {"I4.b.i", "I4.b.ii", "I4.b.iii"}  # not I4.a, which was met
    assert correction_sets(one) == {frozenset({"I4.b.i"}), frozenset({"I4.b.ii"}), frozenset({"I4.b.iii"})}


def test_two_or_more_preferred_dmts_pends_while_two_could_still_be_met():
    p = policy("two-or-more-preferred-dmts")
    d = p.decide(trials(("natalizumab", "failed"), ("fingolimod", "effective")), corrections=True, details=True)
    assert d.decision == "pend" and [m.id for m in d.missing] == ["I4"]
    assert {r.id for r in d.missing[0].reasons} == {"I4.b.i", "I4.b.iii"}  # the undocumented ones
    assert "dimethyl fumarate" in d.missing[0].needed and "teriflunomide" in d.missing[0].needed
    assert d.statuses()["I4"] == "undocumented"
    assert correction_sets(d) == {frozenset({"I4.b.i"}), frozenset({"I4.b.iii"}), frozenset({"I4.b.ii"})}


def test_two_dmts_or_one_high_efficacy_agent():
    p = policy("two-dmts-or-high-efficacy")
    assert p.decide(trials(("natalizumab", "failed"))).decision == "approve"  # the high-efficacy agent alone
    assert p.decide(trials(("dimethyl_fumarate", "failed"), ("teriflunomide", "intolerant"))).decision == "approve"
    # one oral failure, natalizumab effective, the other orals effective: deny
    d = p.decide(trials(("natalizumab", "effective"), ("dimethyl_fumarate", "failed"), ("fingolimod", "effective"),
                        ("teriflunomide", "effective")), corrections=True, details=True)
    assert d.decision == "deny" and [f.id for f in d.failed] == ["I4"]
    reasons = {r.id for r in d.failed[0].reasons}
    assert reasons == {"I4.a", "I4.b", "I4.b.ii", "I4.b.iii"}  # not I4.b.i, which was met
    assert correction_sets(d) == {frozenset({"I4.a"}), frozenset({"I4.b.ii"}), frozenset({"I4.b.iii"})}
    assert d.node("I4.b").kind == "at_least(2)" and d.node("I4.b").status == "not_met"


def test_explain_says_at_least_n_of(tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps(trials(("natalizumab", "effective"), ("dimethyl_fumarate", "failed"))))
    result = CliRunner().invoke(main, ["explain", str(case), "--overlay", str(OVERLAYS / "two-dmts-or-high-efficacy")])
    assert result.exit_code == 0, result.output
    assert "Two oral DMTs tried and failed, or unable to use (at least 2 of 3)" in result.output


# --- what an overlay may hold ---------------------------------------------------------


def test_a_replaced_rule_file_stands_in_for_the_base_file(tmp_path):
    overlay = tmp_path / "age-rule"
    (overlay / "criteria").mkdir(parents=True)
    (overlay / "criteria" / "i2_age.lp").write_text(
        '% A replaced I2: sixteen is enough.\n'
        'finding(K, "I2", met, age(K, A)) :- age(K, A), A >= 16.\n'
        'finding(K, "I2", not_met, age(K, A)) :- age(K, A), A < 16.\n'
        'finding(K, "I2", undocumented, absent("member.birth_date")) :- case(K), not age(K, _).\n'
    )
    p = Policy(Engine(KnowledgeBase(KB_DIR, [overlay])))
    sixteen = vary(INITIAL, {"member.birth_date": "2010-01-01"})
    d = p.decide(sixteen, details=True)
    assert d.statuses()["I2"] == "met"  # the base rule (18) would say not_met: it is gone
    assert [f.id for f in d.failed] == ["E6"]  # the rest of the base still decides


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[overlay]\nremove = ['child(\"I4\", \"I9\")']\n", 'overlay.toml:2: remove \'child("I4", "I9")\' matches no fact of the base'),
        ("[parameters]\nmin_age = 17\n", "overlay.toml:2: parameter min_age is not a param/2 fact of the base"),
        ("[parameters]\nmin_age_initial = \"17\"\n", "overlay.toml:2: parameter min_age_initial = '17'"),
        ("[overlay]\nsurprise = 1\n", "unknown key(s) surprise"),
    ],
)
def test_a_wrong_overlay_is_a_knowledge_base_error_with_its_line(tmp_path, toml, message):
    overlay = tmp_path / "wrong"
    overlay.mkdir()
    (overlay / "overlay.toml").write_text(toml)
    with pytest.raises(KnowledgeBaseError) as raised:
        KnowledgeBase(KB_DIR, [overlay]).catalogue
    assert message in str(raised.value)


def test_every_command_that_takes_kb_takes_overlay(tmp_path):
    overlay = str(OVERLAYS / "age-17")
    case = REPO / "cases" / "a-17-year-old-on-a-first-course-is-denied-for-age-but-not-excluded.yaml"
    run = CliRunner().invoke
    decided = run(main, ["decide", "--format", "json", "--overlay", overlay, str(case)])
    assert decided.exit_code == 0 and json.loads(decided.output)["decision"] == "approve"
    assert "approve" in run(main, ["letter", "--format", "text", "--overlay", overlay, str(case)]).output.lower()
    tested = run(main, ["test", "--overlay", overlay, str(case)])
    assert tested.exit_code == 1 and "FAIL" in tested.output  # its expectation is the shipped policy's
    diffed = run(main, ["diff", "--format", "json", "--overlay", overlay, str(case)])
    summary = json.loads(diffed.output.splitlines()[0])["summary"]
    assert diffed.exit_code == 1 and summary["changed"] == 1 and summary["kb"].endswith("age-17")
    # both sides: the overlay against itself changes nothing
    same = run(main, ["diff", "--base-overlay", overlay, "--overlay", overlay, str(case)])
    assert same.exit_code == 0, same.output


def test_a_pend_letter_asks_for_what_an_at_least_node_still_needs(tmp_path):
    from lemtrada_asp.render.letters import render_letter

    p = policy("two-or-more-preferred-dmts")
    one_more = p.decide(trials(("natalizumab", "failed"), ("fingolimod", "effective")), corrections=True, details=True)
    text = render_letter(one_more, "text")
    assert "One of these" in text and "dimethyl fumarate" in text and "teriflunomide" in text
    # none met, two not met: both undocumented drugs are needed, so each is asked for
    two_more = p.decide(trials(("natalizumab", "effective"), ("fingolimod", "effective")), corrections=True, details=True)
    assert two_more.decision == "pend"
    both = render_letter(two_more, "text")
    assert "One of these" not in both and "dimethyl fumarate" in both and "teriflunomide" in both
