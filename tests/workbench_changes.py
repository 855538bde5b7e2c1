"""The seven rule changes of issue 12, as edits of a copy of the shipped KB.

Each change is a list of (file, old text, new text): the old text must occur
exactly once (so a restructured KB fails loudly here, not silently). old None
appends new to the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

KB_DIR = Path(__file__).resolve().parent.parent / "kb"

I4_COUNT = '''
% Edited: I4.c "two DMTs tried and failed" (any DMTs, named or not).
finding(K, "I4.c", met, dmt_trial(K, I, D, failed)) :-
    dmt_trial(K, I, D, failed), #count { D2 : dmt_trial(K, _, D2, failed) } >= 2.
finding(K, "I4.c", not_met, dmt_trial(K, I, D, O)) :-
    dmt_trial(K, I, D, O), #count { D2 : dmt_trial(K, _, D2, failed) } < 2.
finding(K, "I4.c", undocumented, absent("dmt_history")) :- case(K), not has_dmt_history(K).
has_dmt_history(K) :- dmt_trial(K, _, _, _).
'''
I4_CATALOGUE = '''
criterion("I4.c", "Two DMTs tried and failed", "Initial criteria, 4 (edited)").
node("I4.c", leaf).
needed("I4.c", "records of the DMTs tried and their outcomes").
'''
I4_PREFERRED = '''
% Edited: I4.d "two or more preferred DMTs" tried and failed, or unable to use.
preferred_qualified(K, D) :- step_drug(_, D), dmt_trial(K, _, D, O), qualifying_outcome(O).
finding(K, "I4.d", met, dmt_trial(K, I, D, O)) :-
    dmt_trial(K, I, D, O), preferred_qualified(K, D), #count { D2 : preferred_qualified(K, D2) } >= 2.
finding(K, "I4.d", not_met, dmt_trial(K, I, D, O)) :-
    dmt_trial(K, I, D, O), #count { D2 : preferred_qualified(K, D2) } < 2.
finding(K, "I4.d", undocumented, absent("dmt_history")) :- case(K), not has_dmt_history(K).
has_dmt_history(K) :- dmt_trial(K, _, _, _).
'''
I4_PREFERRED_CATALOGUE = '''
criterion("I4.d", "Two or more preferred DMTs tried and failed, or unable to use", "Initial criteria, 4 (edited)").
node("I4.d", leaf).
needed("I4.d", "records of the preferred DMTs tried and their outcomes").
'''

CHANGES: dict[str, list[tuple[str, str | None, str]]] = {
    "age_17": [("parameters.lp", "param(min_age_initial, 18).", "param(min_age_initial, 17).")],
    "no_natalizumab": [("catalogue.lp", 'child("I4", ("I4.a"; "I4.b")).', 'child("I4", "I4.b").')],
    "texas_mandate": [("state_mandates.lp", None, '\nstate_mandate("TX", "I4").\n')],
    "two_failures_or_high_efficacy": [
        ("catalogue.lp", 'node("I4", all_of).', 'node("I4", any_of).'),
        ("catalogue.lp", 'child("I4", ("I4.a"; "I4.b")).', 'child("I4", ("I4.a"; "I4.c")).' + I4_CATALOGUE),
        ("criteria/i4_step_therapy.lp", None, I4_COUNT),
    ],
    "two_preferred_dmts": [
        ("catalogue.lp", 'child("I4", ("I4.a"; "I4.b")).', 'child("I4", "I4.d").' + I4_PREFERRED_CATALOGUE),
        ("criteria/i4_step_therapy.lp", None, I4_PREFERRED),
    ],
    "chart_12_months": [("parameters.lp", "param(initial_chart_months, 3).", "param(initial_chart_months, 12).")],
    "eleven_months_between_courses": [("parameters.lp", "param(min_months_since_last_dose, 12).", "param(min_months_since_last_dose, 11).")],
}


def edited_kb(name: str, into: Path) -> Path:
    """A copy of the shipped KB at into/name with the change applied."""
    target = into / name
    shutil.copytree(KB_DIR, target)
    for file, old, new in CHANGES[name]:
        path = target / file
        text = path.read_text(encoding="utf-8")
        if old is None:
            text += new
        else:
            assert text.count(old) == 1, f"{file}: {old!r} occurs {text.count(old)} times"
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    return target
