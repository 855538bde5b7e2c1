"""The decision cache: the same bytes as the plain path, on the shipped KB and on edited ones.

Every test decides a corpus twice, through clingo for every case (Engine.decide)
and through the cache (DecisionCache.decide, chunk by chunk as a batch does), and
compares the JSON of every decision. The corpora mix the example cases, generated
cases near the rules' edges, and random ones, decided twice over so that the
second pass is answered from memory.
"""

from __future__ import annotations

import json
import random
import shutil

import pytest

from conftest import CASES_DIR, CONTINUATION, INITIAL, KB_DIR, vary
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.engine.cache.memory import DecisionCache
from lemtrada_asp.engine.casemodel import Name
from lemtrada_asp.engine.cache.derive import derive
from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.engine.errors import KnowledgeBaseError
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.engine.loading import iter_items
from lemtrada_asp.engine.cache.parts import DECISION

CHUNK = 50
DRUGS = ("natalizumab", "dimethyl_fumarate", "fingolimod", "teriflunomide", "ocrelizumab")
OUTCOMES = ("failed", "intolerant", "contraindicated", "effective")


def random_cases(n: int, seed: int) -> list[dict]:
    """Cases with random ages, dates, therapies, codes and states (valid under case format v1)."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        base = CONTINUATION if rng.random() < 0.4 else INITIAL
        changes = {
            "id": f"R-{seed}-{i}",
            "member.birth_date": f"{rng.randint(1940, 2012)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "member.state": rng.choice(["TX", "NY", "CA", "OH"]),
            "request.days": rng.choice([3, 5, 5, 4]),
            "request.dose_mg_per_day": rng.choice([12, 12, 10]),
            "chart_date": f"2026-0{rng.randint(1, 4)}-{rng.randint(10, 28)}",
            "dmt_history": [{"drug": rng.choice(DRUGS), "outcome": rng.choice(OUTCOMES)} for _ in range(rng.randint(0, 3))],
            "concurrent_dmts": rng.choice([[], [], ["ocrelizumab"]]),
            "hiv_positive": rng.choice([False, False, True]),
            "request.diagnosis_codes": rng.choice([["G35.A"], ["G35"], ["G37.9"], ["G35.D", "K50.90"]]),
        }
        cases.append(vary(base, changes))
    return cases


def corpus(engine: Engine, generated: int, randoms: int, seed: int = 5) -> list[tuple[str, object]]:
    validate = engine.case_model.validate
    items = [(i.source, i.case) for i in iter_items([str(CASES_DIR)], validate) if i.case is not None]
    data = list(generate_cases(generated, seed, params=engine.catalogue.params)) + random_cases(randoms, seed)
    items += [(f"<case {n}>", validate(d, f"<case {n}>")) for n, d in enumerate(data)]
    return items + items  # the second pass is answered from memory


def both_ways(engine: Engine, cases, *, corrections: bool = False, details: bool = False, cap: int | None = None, chunk: int = CHUNK):
    cache = DecisionCache(engine, cap=cap) if cap else DecisionCache(engine)
    assert cache.active, cache.reason
    plain, cached = [], []
    for start in range(0, len(cases), chunk):
        part = cases[start : start + chunk]
        plain += [_bytes(d, details) for d in engine.decide(part, corrections=corrections, details=details)]
        cached += [_bytes(d, details) for d in cache.decide(part, corrections=corrections, details=details)]
    return plain, cached, cache


def _bytes(decision, details: bool) -> str:
    text = json.dumps(decision.to_json(), ensure_ascii=False)
    return text + (repr(decision.tree) if details else "")


def assert_same(plain, cached):
    differing = [i for i, (a, b) in enumerate(zip(plain, cached)) if a != b]
    assert len(plain) == len(cached)
    assert not differing, f"{len(differing)} cases differ, first:\n{plain[differing[0]]}\n{cached[differing[0]]}"


@pytest.fixture(scope="module")
def shipped():
    return Engine(KnowledgeBase(KB_DIR))


@pytest.mark.slow
def test_the_cache_gives_the_plain_paths_bytes_on_examples_generated_and_random_cases(shipped):
    cases = corpus(shipped, 450, 200)
    plain, cached, cache = both_ways(shipped, cases)
    assert_same(plain, cached)
    assert cache.hits >= len(cases) // 2  # the whole second pass, at least, came from memory


@pytest.mark.slow
def test_with_details_and_with_corrections_too(shipped):
    cases = corpus(shipped, 150, 100, seed=9)
    plain, cached, _ = both_ways(shipped, cases, details=True)
    assert_same(plain, cached)
    plain, cached, cache = both_ways(shipped, cases[:200] + cases[:200], corrections=True)
    assert_same(plain, cached)
    assert cache._fixes  # corrections were remembered, and reused on the second pass
    assert cache.solved_corrections  # new ones solved on the what-if above the leaves
    assert any('"corrections": [[' in line for line in cached)


@pytest.mark.slow
def test_memory_is_bounded_by_the_cap_and_the_output_stays_the_same(shipped):
    cases = corpus(shipped, 200, 100, seed=3)
    plain, cached, cache = both_ways(shipped, cases, cap=7)
    assert_same(plain, cached)
    assert len(cache._upper) <= 7 and all(len(t) <= 7 for t in cache._leaves)


def edited_kb(tmp_path, edit):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    edit(kb)
    return Engine(KnowledgeBase(kb))


def change_parameter(kb):
    path = kb / "parameters.lp"
    text = path.read_text()
    assert "param(min_age_initial, 18)." in text
    path.write_text(text.replace("param(min_age_initial, 18).", "param(min_age_initial, 21)."))


NEW_LEAF = """
top(initial, "I8").
criterion("I8", "The member's state is on file", "Initial criteria, 8").
node("I8", leaf).
policy_order("I8", 8).
finding(K, "I8", met, member_state(K, S)) :- member_state(K, S), S != "OH".
finding(K, "I8", not_met, member_state(K, S)) :- member_state(K, S), S = "OH".
finding(K, "I8", undocumented, absent("member.state")) :- case(K), not has_state(K).
has_state(K) :- member_state(K, _).
"""

COUNT_RULE = """
% Two or more other therapies at once: monotherapy fails on the count as well.
finding(K, "I6", not_met, too_many(N)) :- case(K), N = #count { I : concurrent_dmt(K, I, _) }, N >= 1.
"""


def append(text):
    def edit(kb):
        with (kb / "lemtrada.lp").open("a") as out:
            out.write(text)

    return edit


@pytest.mark.parametrize(
    "edit, new_leaf",
    [(change_parameter, False), (append(NEW_LEAF), True), (append(COUNT_RULE), False)],
    ids=["parameter", "new-leaf", "count-rule"],
)
@pytest.mark.slow
def test_an_edited_kb_is_cached_as_derived_from_its_own_rules(tmp_path, shipped, edit, new_leaf):
    engine = edited_kb(tmp_path, edit)
    cases = corpus(engine, 200, 100, seed=11)
    plain, cached, cache = both_ways(engine, cases)
    assert_same(plain, cached)
    base = [json.dumps(d.to_json()) for d in shipped.decide(cases[:100])]
    assert base != plain[:100]  # the edit changed decisions, and the cache followed it
    groups = {leaf: set(g.reads) for g in cache.derivation.groups for leaf in g.leaves}
    assert ("I8" in groups) == new_leaf
    if new_leaf:  # derived, not listed: the new leaf reads the member's state
        assert ("member_state", 2) in groups["I8"]


ACTIONABLE_AGE = 'actionable("I2").\n'  # the policy's data: which changes a member or prescriber can make


@pytest.mark.parametrize(
    "edit", [change_parameter, append(NEW_LEAF), append(ACTIONABLE_AGE)], ids=["parameter", "new-leaf", "actionable"]
)
@pytest.mark.slow
def test_an_edited_kbs_corrections_are_solved_above_the_leaves_with_the_correctors_bytes(tmp_path, shipped, edit):
    engine = edited_kb(tmp_path, edit)
    cases = corpus(engine, 100, 60, seed=21)[:150]
    plain, cached, cache = both_ways(engine, cases + cases, corrections=True)
    assert_same(plain, cached)
    assert cache.solved_corrections and any('"corrections": [[' in line for line in cached)
    base = [json.dumps(d.to_json()) for d in shipped.decide(cases, corrections=True)]
    assert base != plain[: len(cases)]  # the edit changed the output, and the cache followed it


NEVER_YOUNG = 'never_taken_as_met("I2").\n:- hypothetical(K, Id, met), never_taken_as_met(Id).\n'


def test_a_case_no_correction_reaches_is_reported_as_the_corrector_reports_it(tmp_path):
    engine = edited_kb(tmp_path, append(NEVER_YOUNG))
    young, other = (vary(INITIAL, {"id": i, **x}) for i, x in (("G-A", TOO_YOUNG), ("G-B", NO_SPECIALIST)))
    cases = _validated(engine, other, other, young)
    with pytest.raises(KnowledgeBaseError) as plain:
        engine.decide(cases[2:], corrections=True)
    cache = DecisionCache(engine)
    cache.decide(cases[:1], corrections=True)
    cache.decide(cases[1:2], corrections=True)
    with pytest.raises(KnowledgeBaseError) as cached:
        cache.decide(cases[2:], corrections=True)
    assert cache.solved_corrections == 1  # the other case's, once: the young one has no answer above the leaves either
    assert str(cached.value) == str(plain.value) and "find no change of leaves that reaches a target" in str(plain.value)


REFUSED = {
    "reads across keys": ('finding(K, "I6", not_met, absent("x")) :- case(K), age(K2, A), K2 != K, A > 90.\n', "two case keys"),
    "choice": ("{ flag(K) } :- case(K).\n", "choice"),
    "evidence pattern": ('extra(K) :- finding(K, _, _, age(K, 99)).\n', "evidence"),
    "script": ('#script (python)\ndef f(): return 1\n#end.\n', "SCRIPT"),
    "unkeyed from case": ("some_case :- case(K).\n", "not keyed"),
    # Two models below a leaf, of which the rest could keep one: its findings would rest on more than its inputs.
    "not stratified": (
        'odd(K) :- case(K), not even(K).\neven(K) :- case(K), not odd(K).\n'
        'finding(K, "I6", not_met, absent("x")) :- odd(K).\n',
        "not stratified",
    ),
    "the cache's own name": ("_cached_finding(K) :- case(K).\n", "the name the engine shows findings to the cache by"),
    "external function": ('finding(K, "I6", not_met, absent("x")) :- age(K, A), A > @limit.\n', "an external function @limit"),
    "theory atom": ('&sum { A } >= 1 :- age(K, A).\n', "a theory atom"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_kb_the_derivation_cannot_vouch_for_takes_the_plain_path_and_says_why(tmp_path, name):
    text, why = REFUSED[name]
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "lemtrada.lp").open("a") as out:
        out.write(text)
    derivation = derive(KnowledgeBase(kb))
    assert not derivation.vouched
    assert why.lower() in derivation.reason.lower()
    assert "plain chunked path" in derivation.describe()[0]


def test_a_state_mandate_keeps_its_state_exact_in_the_keys_and_the_output_the_same(tmp_path):
    def mandate(kb):
        with (kb / "state_mandates.lp").open("a") as out:
            out.write('state_mandate("TX", "I4").\n')

    engine = edited_kb(tmp_path, mandate)
    cache = DecisionCache(engine)
    assert cache.derivation.collapse["member_state"] == {1: frozenset({"TX"})}
    failing_step = [vary(INITIAL, {"id": f"M-{s}-{i}", "member.state": s,
                                          "dmt_history": [{"drug": "natalizumab", "outcome": "effective"},
                                                          {"drug": "fingolimod", "outcome": "intolerant"}]})
                    for i in range(3) for s in ("TX", "NY", "OH")]
    cases = [(c["id"], engine.case_model.validate(c, c["id"])) for c in failing_step]
    plain, cached, _ = both_ways(engine, cases, chunk=3)
    assert_same(plain, cached)
    reasons = {json.loads(line)["case_id"][:4]: json.loads(line)["pend_reason"] for line in cached}
    assert reasons["M-TX"] == "state_mandate" and reasons["M-NY"] is None


def test_the_shipped_derivation_groups_leaves_by_what_they_read():
    d = derive(KnowledgeBase(KB_DIR))
    assert d.vouched, d.reason
    reads = {leaf: set(g.reads) for g in d.groups for leaf in g.leaves}
    assert reads["I2"] == {("age", 2), ("case", 1)}
    assert reads["I4.a"] == reads["I4.b.iii"] and ("dmt_trial", 4) in reads["I4.a"]
    # ... but each step-therapy leaf only the trials of its own drug (step_drug/2 ties them):
    select = {leaf: g.select for g in d.groups for leaf in g.leaves}
    assert select["I4.a"] == ((("dmt_trial", 4), 2, frozenset({Name("natalizumab")})),)
    assert select["I4.b.ii"] == ((("dmt_trial", 4), 2, frozenset({Name("fingolimod")})),)
    assert not select["B1"]
    assert ("prior_course", 2) in d.hooks and ("age", 2) not in d.hooks
    assert set(d.carriers) == {("because", 3), ("finding", 4)}
    assert d.collapse == {"member_state": {1: frozenset()}}  # the mandate table ships empty


def test_the_toy_policy_is_cached_too():
    toy = KB_DIR.parent / "tests" / "fixtures" / "toy_policy"
    engine = Engine(KnowledgeBase(toy))
    validate = engine.case_model.validate
    items = [(i.source, i.case) for i in iter_items([str(toy / "cases")], validate) if i.case is not None]
    assert items
    plain, cached, cache = both_ways(engine, items * 3, chunk=2)  # its case model gives symbols only, no plain facts
    assert_same(plain, cached)
    assert cache.hits


def test_the_service_derives_its_cache_at_start_and_answers_a_repeated_case_from_memory(monkeypatch, tmp_path):
    import lemtrada_asp.engine.cache.memory as cache_module
    from lemtrada_asp.service.decider import Decider

    monkeypatch.setenv("LEMTRADA_ASP_CACHE_DIR", str(tmp_path))  # nothing stored yet: the service derives
    derived = []
    monkeypatch.setattr(cache_module, "derive", lambda kb: derived.append(kb) or derive(kb))
    decider = Decider(KB_DIR)
    assert len(derived) == 1  # at start: no request waits for the derivation
    answers = [decider.decide({**INITIAL, "id": f"S-{n}"}) for n in range(3)]
    cache = cache_module.cache_for(decider.policy.engine)
    assert len(derived) == 1 and cache.active
    assert (cache.misses, cache.hits) == (1, 1)  # the first request takes the plain path, the second fills, the third hits
    assert {k: v for k, v in answers[0].items() if k != "case_id"} == {k: v for k, v in answers[2].items() if k != "case_id"}


# --- parts: the layer above the leaves, put together from what each criterion rests on ---


def _hooks(engine, cache, data):
    case = engine.case_model.validate(data, "hooks")
    sigs = set(cache.derivation.hooks)
    return [s for s in engine.case_model.symbols(0, case) if (s.name, len(s.arguments)) in sigs]


def test_the_ground_program_splits_the_shipped_decision_into_one_part_per_criterion(shipped):
    cache = DecisionCache(shipped)
    initial = cache._prover.prove(_hooks(shipped, cache, INITIAL), details=False)
    continuation = cache._prover.prove(_hooks(shipped, cache, CONTINUATION), details=False)
    assert ("I4.a", "I4.b.i", "I4.b.ii", "I4.b.iii") in initial.parts and ("I2",) in initial.parts
    assert ("C2.a", "C2.b") in continuation.parts and ("E6",) in continuation.parts
    # A continuation criterion changes nothing in an initial review, and the other way round.
    assert "C2.a" not in initial.part_of and "I2" not in continuation.part_of
    # The decision rests on which criteria failed or are missing, not on how.
    interface = {(name, tuple(str(a) for a in args)) for name, args in initial.interface}
    assert ("failed", ('"I4"', "not_met")) in interface and ("missing", ('"I4"',)) in interface
    assert not any(name in ("decision", "because", "reason") for name, _ in interface)


def test_a_new_combination_of_known_criteria_is_answered_from_memory(shipped):
    other_steps = [{"drug": "natalizumab", "outcome": "failed"}, {"drug": "teriflunomide", "outcome": "failed"}]
    a = vary(INITIAL, {"id": "P-A"})
    b = vary(INITIAL, {"id": "P-B", "dmt_history": other_steps, "response": {"objective": ["mri_activity_reduced"]}})
    c = vary(INITIAL, {"id": "P-C", "dmt_history": other_steps})  # b's step therapy, a's (unread) response
    cases = [(x["id"], shipped.case_model.validate(x, x["id"])) for x in (a, b, c)]
    cache = DecisionCache(shipped)
    cached = [json.dumps(d.to_json()) for d in cache.decide(cases[:2])] + [json.dumps(d.to_json()) for d in cache.decide(cases[2:])]
    assert (cache.misses, cache.hits, cache.composed) == (2, 1, 1)
    assert cached == [json.dumps(d.to_json()) for d in shipped.decide(cases)]


def _validated(engine, *cases):
    return [(x["id"], engine.case_model.validate(x, x["id"])) for x in cases]


TOO_YOUNG = {"member.birth_date": "2008-12-01"}  # 17 on the request date: I2 not met
NO_SPECIALIST = {"prescriber.specialty": "other"}  # I1 not documented


def test_a_new_decision_over_known_criteria_is_solved_above_the_leaves_not_by_the_whole_program(shipped):
    a = vary(INITIAL, {"id": "D-A", **TOO_YOUNG})
    b = vary(INITIAL, {"id": "D-B", **NO_SPECIALIST})
    c = vary(INITIAL, {"id": "D-C", **TOO_YOUNG, **NO_SPECIALIST})  # a's I2 and b's I1: a combination never decided
    cases = _validated(shipped, a, b, c)
    cache = DecisionCache(shipped)
    cached = [json.dumps(d.to_json()) for d in cache.decide(cases[:2])] + [json.dumps(d.to_json()) for d in cache.decide(cases[2:])]
    assert (cache.misses, cache.hits, cache.composed, cache.solved) == (2, 1, 1, 1)
    assert cached == [json.dumps(d.to_json()) for d in shipped.decide(cases)]
    assert '"decision": "deny"' in cached[2] and '"I1"' in cached[2] and '"I2"' in cached[2]
    assert any("1 decision levels solved above the leaves" in line for line in cache.describe())


# An output resting on two criteria only through which of them failed or are missing:
# it belongs to the decision level, and a new combination of them is solved above the leaves.
BOTH_SHOWN = '#show young_and_unreferred(K) : failed(K, "I2", _), missing(K, "I1").\n'


def test_a_decision_level_output_of_an_edited_kb_is_solved_above_the_leaves_with_the_plain_paths_bytes(tmp_path):
    engine = edited_kb(tmp_path, append(BOTH_SHOWN))
    a, b, c = (vary(INITIAL, {"id": i, **x}) for i, x in (("E-A", TOO_YOUNG), ("E-B", NO_SPECIALIST), ("E-C", {**TOO_YOUNG, **NO_SPECIALIST})))
    cases = _validated(engine, a, b, c)
    cache = DecisionCache(engine)
    parts = cache._prover.prove(_hooks(engine, cache, INITIAL), details=False)
    assert parts.level[("young_and_unreferred", ())] == DECISION and parts.part_of["I1"] != parts.part_of["I2"]
    outcomes = [cache._lookup(0, _keys(cache, case), False, case) for _, case in cases]
    assert outcomes == [None, None, None]  # nothing known yet
    cache.decide(cases[:2])
    solved = cache._lookup(0, _keys(cache, cases[2][1]), False, cases[2][1])
    assert cache.solved == 1
    assert solved == engine._solve([cases[2][1]], details=False)[0]  # what the whole program derives
    plain, cached, cache = both_ways(engine, corpus(engine, 150, 60, seed=17))
    assert_same(plain, cached)
    assert cache.solved


def _keys(cache, case):
    """The keys cache.decide looks a case up by (as it builds them)."""
    from lemtrada_asp.engine.cache.memory import _Keys, _collapsed, _keyed

    by: dict = {}
    for fact in cache._facts(case):
        if fact[0] in cache._collapse:
            fact = _collapsed(fact, cache._collapse[fact[0]])
        by[fact[0]] = (*by.get(fact[0], ()), fact)
    return _Keys(by, [_keyed(by, inputs) for inputs in cache._groups], _keyed(by, cache._hooks))


# Two decisions for one combination: an unsound KB, which the whole program reports.
SECOND_DECISION = 'decision(K, pend, clinical_review) :- failed(K, "I2", _), missing(K, "I1").\n'


def test_a_decision_level_the_kb_gets_wrong_is_reported_as_the_whole_program_reports_it(tmp_path):
    engine = edited_kb(tmp_path, append(SECOND_DECISION))
    a, b, c = (vary(INITIAL, {"id": i, **x}) for i, x in (("F-A", TOO_YOUNG), ("F-B", NO_SPECIALIST), ("F-C", {**TOO_YOUNG, **NO_SPECIALIST})))
    cases = _validated(engine, a, b, c)
    with pytest.raises(KnowledgeBaseError) as plain:
        engine.decide(cases[2:])
    cache = DecisionCache(engine)
    cache.decide(cases[:2])
    with pytest.raises(KnowledgeBaseError) as cached:
        cache.decide(cases[2:])
    assert str(cached.value) == str(plain.value) and "F-C" in str(plain.value)
    assert cache.solved == 0


JOINED_SHOW = '#show both_failed(K) : status(K, "I1", not_met), status(K, "I2", not_met).\n'


@pytest.mark.slow
def test_an_output_resting_on_two_criteria_joins_them_into_one_part(tmp_path):
    engine = edited_kb(tmp_path, append(JOINED_SHOW))
    cache = DecisionCache(engine)
    parts = cache._prover.prove(_hooks(engine, cache, INITIAL), details=False)
    assert ("I1", "I2") in parts.parts
    cases = corpus(engine, 150, 60, seed=13)
    plain, cached, cache = both_ways(engine, cases)
    assert_same(plain, cached)
    assert cache.composed


LOOP = """
% A positive loop above the leaves: the ground program is not acyclic, so no parts are proven.
echoed(K, Id) :- failed(K, Id, _).
echoed(K, Id) :- echo(K, Id).
echo(K, Id) :- echoed(K, Id).
#show echo/2.
"""


def test_without_proven_parts_the_layer_above_the_leaves_stays_whole(tmp_path):
    engine = edited_kb(tmp_path, append(LOOP))
    cache = DecisionCache(engine)
    assert cache.active, cache.reason
    assert cache._prover.prove(_hooks(engine, cache, INITIAL), details=False) is None
    plain, cached, cache = both_ways(engine, corpus(engine, 120, 40, seed=19))
    assert_same(plain, cached)
    assert cache.hits and not cache.composed


# --- selection: a leaf keyed by the facts a data table ties to it ---

I8 = """
top(initial, "I8").
criterion("I8", "A short history of therapies", "Initial criteria, 8").
node("I8", leaf).
policy_order("I8", 8).
"""
# D is bound with the leaf by a data fact, but the trials are counted whatever their drug.
WHOLE_HISTORY = I8 + """
finding(K, "I8", met, trials(N)) :- step_drug("I4.a", D), case(K), N = #count { I : dmt_trial(K, I, _, _) }, N <= 4.
finding(K, "I8", not_met, trials(N)) :- step_drug("I4.a", D), case(K), N = #count { I : dmt_trial(K, I, _, _) }, N > 4.
"""
# D is local to each element: the first does not tie the second's D to natalizumab.
LOCAL_IN_AGGREGATE = I8 + """
finding(K, "I8", met, drugs(N)) :- case(K), N = #count { D : step_drug("I4.a", D) ; D : dmt_trial(K, _, D, _) }, N <= 3.
finding(K, "I8", not_met, drugs(N)) :- case(K), N = #count { D : step_drug("I4.a", D) ; D : dmt_trial(K, _, D, _) }, N > 3.
"""


@pytest.mark.slow
@pytest.mark.parametrize("text", [WHOLE_HISTORY, LOCAL_IN_AGGREGATE], ids=["whole-history", "local-in-aggregate"])
def test_a_leaf_that_reads_more_than_its_drug_is_keyed_by_the_whole_history(tmp_path, text):
    engine = edited_kb(tmp_path, append(text))
    cache = DecisionCache(engine)
    select = {leaf: g.select for g in cache.derivation.groups for leaf in g.leaves}
    assert select["I8"] == () and select["I4.a"]
    long_histories = [
        vary(INITIAL, {"id": f"H-{n}", "dmt_history": [{"drug": d, "outcome": "failed"} for d in DRUGS[: n % 6]]})
        for n in range(12)
    ]
    cases = corpus(engine, 100, 60, seed=17) + [(c["id"], engine.case_model.validate(c, c["id"])) for c in long_histories * 2]
    plain, cached, _ = both_ways(engine, cases)
    assert_same(plain, cached)
    assert {json.loads(p)["decision"] for p in plain[-12:]} >= {"approve", "deny"}  # the new leaf decides some
