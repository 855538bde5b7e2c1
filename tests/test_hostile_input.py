"""Hostile and broken input, property-based: whatever arrives, a decision or a clear error.

Hypothesis generates arbitrary JSON values, arbitrary bytes, and mutations of the
59 example cases and the base cases (a field dropped, a type changed, a string
inserted, a value nested deep, a list blown up, ...). Every answer must be a
decision in the decision format citing only catalogue criteria, or an input error
whose problems name the field; an exception escaping is a failure. The example
budget is fixed and derandomized, so CI runs the same inputs every time.
"""

from __future__ import annotations

import copy
import io
import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CASES_DIR, CONTINUATION, INITIAL, KB_DIR
from hostile_checks import TALLY, check_result, counted, fields, report_to
from lemtrada_asp.engine.batch import decide_paths, decide_records
from lemtrada_asp.cli import main
from lemtrada_asp.engine.loading import MAX_CASE_BYTES, Record, _CaseYamlLoader, _json_nesting_problem, load_yaml
from lemtrada_asp.engine.errors import CaseValidationError
from lemtrada_asp.case.model import MAX_NESTING, Case, field_path, shape_problems, validate_case


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    before = TALLY.copy()
    yield
    report_to(request.config, "hostile input (test_hostile_input.py)", before)


def decide_text(engine, text: str, yaml_text: bool = False, source: str = "fuzz.json"):
    results = counted(lambda: list(decide_records(engine, [Record(source, text, yaml_text)])))
    assert len(results) == 1
    return results[0]


# --- what to generate ------------------------------------------------------------


def _model_fields(model, seen=None) -> set[str]:
    seen = seen if seen is not None else set()
    for name, info in model.model_fields.items():
        seen.add(name)
        stack = [info.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and hasattr(kind, "model_fields") and kind is not model:
                _model_fields(kind, seen)
            stack.extend(get_args(kind))
    return seen


FIELD_NAMES = sorted(_model_fields(Case))  # so generated mappings often look like case parts

HOSTILE_TEXT = [
    '"). decision(0, approve, none). #show.',
    "x. :- case(K).",
    "#show decision/3.",
    "a\nb\r\nc",
    "back\\slash\\\" quote",
    "100% %s %n {0}",
    "\x00",
    "' OR 1=1; --",
    "\u202e\ufeff\u200b",
    "NO",
    "yes",
    "012",
    "2026-02-30",
]

ODD_VALUES = [0, -1, 1.5, 1e308, -0.0, 2**31, 2**63, 10**40, "12", "", " ", True, False, None, [], {}, [None], {"": None}]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(HOSTILE_TEXT)
    | st.integers(201, 5000).map(lambda n: "x" * n)  # past the 200-character limit of free text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=6),
    max_leaves=40,
)


def _json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, date) else str(v)))


SEEDS = [_json_ready(load_yaml(p.read_text())) for p in sorted(CASES_DIR.glob("*.yaml")) if ".expected." not in p.name]
SEEDS += [copy.deepcopy(INITIAL), copy.deepcopy(CONTINUATION)]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _nest(value: Any, depth: int, keys: list[str]) -> Any:
    for i in range(depth):
        value = [value] if i % 2 else {keys[i % len(keys)]: value}
    return value


def _pick(draw, choices: list) -> Any:
    # Hypothesis favours the first choice; in document order that is "id", and
    # most mutations would be "id is missing". Last first puts leaves up front.
    return draw(st.sampled_from(choices[::-1]))


@st.composite
def mutations(draw) -> Any:
    """A seed case with one to three of: drop, reorder, retype, hostile text, deep nest,
    extra key, blow up a list, graft another part, any JSON value."""
    case = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "drop", "reorder", "reorder", "retype", "text", "nest", "extra", "grow", "graft", "value"]))
        paths = _paths(case)
        # the whole case replaced by something else is test_any_json_value's business
        path = _pick(draw, paths if op in ("reorder", "extra") or len(paths) == 1 else paths[1:])
        target = _get(case, path)
        if op == "drop" and path:
            del _get(case, path[:-1])[path[-1]]
            continue
        if op == "reorder" and isinstance(target, (dict, list)):
            reordered = dict(reversed(target.items())) if isinstance(target, dict) else target[::-1]
            if path:
                _get(case, path[:-1])[path[-1]] = reordered
            else:
                case = reordered
            continue
        if op == "extra" and isinstance(target, dict):
            target[draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=12))] = draw(scalars)
            continue
        if op == "grow" and isinstance(target, list) and target:
            target *= draw(st.integers(2, 120))
            continue
        new = {
            "retype": lambda: copy.deepcopy(draw(st.sampled_from(ODD_VALUES))),
            "text": lambda: draw(st.sampled_from(HOSTILE_TEXT) | st.text() | st.integers(201, 5000).map(lambda n: "x" * n)),
            "nest": lambda: _nest(target, draw(st.integers(1, 40)), draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1))),
            "graft": lambda: copy.deepcopy(_get(case, _pick(draw, _paths(case)))),
            "value": lambda: draw(json_values),
        }.get(op, lambda: draw(json_values))()
        if path:
            _get(case, path[:-1])[path[-1]] = new
        else:
            case = new
    return case


def _problems_name_their_field(result) -> bool:
    return all(f or p["message"].startswith("... and") for f, p in zip(fields(result), result.error["problems"]))


# --- properties ------------------------------------------------------------------


@pytest.mark.slow
@budget(300)
@given(value=json_values)
def test_any_json_value_is_decided_or_refused_and_nothing_escapes(engine, catalogue_ids, value):
    result = decide_text(engine, json.dumps(value))
    outcome = check_result(result, catalogue_ids)
    if outcome == "refused" and isinstance(value, dict):
        assert _problems_name_their_field(result), result.error


@pytest.mark.slow
@budget(400)
@given(case=mutations())
def test_any_mutation_of_a_valid_case_is_decided_or_refused_naming_the_field(engine, catalogue_ids, case):
    result = decide_text(engine, json.dumps(case))
    outcome = check_result(result, catalogue_ids)
    if outcome == "refused" and isinstance(case, dict):
        assert _problems_name_their_field(result), result.error
    try:
        validate_case(case, "direct")
        valid = True
    except CaseValidationError:
        valid = False
    if valid:  # what validates from a dict is decided from its text, too
        assert outcome == "decided", result.error


class _CaseYamlDumper(yaml.SafeDumper):
    """Quotes exactly the strings the case loader would read as something else,
    and writes a repeated part out again instead of as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_CaseYamlDumper.yaml_implicit_resolvers = _CaseYamlLoader.yaml_implicit_resolvers


@pytest.mark.slow
@budget(150)
@given(case=mutations())
def test_a_case_decides_the_same_from_json_and_from_yaml(engine, catalogue_ids, case):
    from_json = decide_text(engine, json.dumps(case), source="c.json")
    from_yaml = decide_text(engine, yaml.dump(case, Dumper=_CaseYamlDumper, allow_unicode=True), True, source="c.yaml")
    assert check_result(from_json, catalogue_ids) == check_result(from_yaml, catalogue_ids), (from_json.error, from_yaml.error)
    if from_json.ok:
        strip = lambda d: {k: v for k, v in d.items() if k != "source"}  # noqa: E731
        assert strip(from_json.decision) == strip(from_yaml.decision)


@pytest.mark.slow
@budget(250)
@given(data=st.binary(max_size=3000) | st.text(max_size=3000).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_on_standard_input_are_decided_or_refused(catalogue_ids, data):
    results = counted(lambda: list(decide_paths(["-"], KB_DIR, stdin=io.BytesIO(data))))
    assert results, "standard input produced no answer at all"
    for result in results:
        check_result(result, catalogue_ids)


@budget(250)
@given(text=st.text(max_size=2000), as_yaml=st.booleans())
def test_any_text_as_a_case_file_is_decided_or_refused(engine, catalogue_ids, text, as_yaml):
    check_result(decide_text(engine, text, as_yaml, source="c.yaml" if as_yaml else "c.json"), catalogue_ids)


# --- JSON Lines: every line is accounted for --------------------------------------

LINE_KINDS = ["good", "good", "mutated", "malformed", "schema", "duplicate", "blank", "not_utf8", "garbage"]


@st.composite
def batches(draw) -> list[tuple[str, bytes]]:
    """Lines of a .jsonl file, each with the kind of line it is."""
    lines: list[tuple[str, bytes]] = []
    for i, kind in enumerate(draw(st.lists(st.sampled_from(LINE_KINDS), min_size=1, max_size=8))):
        if kind == "good":
            body = json.dumps({**draw(st.sampled_from(SEEDS)), "id": f"L-{i}"})
        elif kind == "mutated":
            body = json.dumps(draw(mutations()))
        elif kind == "malformed":
            body = draw(st.sampled_from(['{"id": "M"', "{not json}", "[1, 2", '{"id": "A", "id": "B"}', "NaN"]))
        elif kind == "schema":
            body = json.dumps({**INITIAL, "id": f"S-{i}", "hiv_positive": "no"})
        elif kind == "duplicate":
            body = json.dumps({**INITIAL, "id": "DUP"})
        elif kind == "blank":
            body = draw(st.sampled_from(["", "   ", "\t", "\r"]))
        elif kind == "garbage":
            body = draw(st.text(alphabet=st.characters(blacklist_characters="\n\r"), min_size=1, max_size=40))
        if kind == "not_utf8":
            raw = b'{"id": "\xff\xfe"}'
        else:
            raw = body.encode("utf-8", "surrogatepass")
        lines.append((kind, raw))
    return lines


@pytest.mark.slow
@budget(60)
@given(lines=batches())
def test_a_json_lines_batch_decides_every_good_line_and_reports_every_bad_one_by_number(catalogue_ids, lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        path.write_bytes(b"\n".join(raw for _, raw in lines) + b"\n")
        result = counted(
            lambda: CliRunner().invoke(main, ["decide", str(path), "--format", "json"]),
            inputs=sum(1 for _, raw in lines if raw.strip()),  # blank lines are skipped, not inputs
        )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    numbered = [(n, kind) for n, (kind, raw) in enumerate(lines, 1) if raw.strip()]
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["source"] for o in out] == [f"{path}:{n}" for n, _ in numbered]  # one answer per line, in order
    for (n, kind), answer in zip(numbered, out):
        if "error" in answer:
            TALLY["refused"] += 1
            assert f"error: {path}:{n}: " in result.stderr
        else:
            TALLY["decided"] += 1
        if kind == "good":
            assert answer.get("decision") in {"approve", "deny", "pend"}, answer
        if kind in {"malformed", "schema", "not_utf8"}:
            assert answer.get("error") == "invalid_input", answer
    duplicates = [o for (n, kind), o in zip(numbered, out) if kind == "duplicate"]
    assert [("error" in o) for o in duplicates] == [False, *[True] * (len(duplicates) - 1)][: len(duplicates)]
    bad = sum("error" in o for o in out)
    assert result.exit_code == (2 if bad else 0), result.stderr


# --- the nesting check agrees with the real depth ---------------------------------

key_text = st.text(alphabet=st.sampled_from('ab"\\[]{}:,\n \u00e9\U0001f600'), max_size=6)


@st.composite
def nested_values(draw) -> Any:
    value: Any = draw(scalars | st.sampled_from(['"]]]', "\\", "[[[{{{"]))
    for _ in range(draw(st.integers(0, 16))):
        siblings = draw(st.lists(scalars, max_size=2))
        if draw(st.booleans()):
            value = [*siblings, value] if draw(st.booleans()) else [value, *siblings]
        else:
            value = {**{draw(key_text) + "s": s for s in siblings}, draw(key_text): value}
    return value


def _first_too_deep(value: Any) -> tuple | None:
    """The path to the first container (in document order) nested past MAX_NESTING."""
    stack = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_NESTING:
                return path
            pairs = list(node.items() if isinstance(node, dict) else enumerate(node))
            stack.extend((child, (*path, key), depth + 1) for key, child in reversed(pairs))
    return None


@budget(500)
@given(value=nested_values(), ascii_only=st.booleans(), indent=st.sampled_from([None, 0, 2]))
def test_the_json_nesting_check_finds_exactly_the_first_too_deep_place(value, ascii_only, indent):
    expected = _first_too_deep(value)
    found = _json_nesting_problem(json.dumps(value, ensure_ascii=ascii_only, indent=indent))
    walked = shape_problems(value)
    if expected is None:
        assert found is None and not walked
    else:
        assert found is not None and found.field == field_path(expected)
        assert walked[0].field == field_path(expected)


# --- YAML specifics, one by one ------------------------------------------------------

BASE_YAML = """\
id: Y-1
request: {date: 2026-05-01, dose_mg_per_day: 12, days: 5, diagnosis_codes: [G35.A]}
member: {birth_date: 1990-04-02, state: TX}
prescriber: {specialty: neurology}
chart_date: 2026-04-20
diagnosis: {condition: multiple_sclerosis, ms_course: relapsing_remitting, active: true}
dmt_history: [{drug: natalizumab, outcome: failed}, {drug: fingolimod, outcome: intolerant}]
concurrent_dmts: []
hiv_positive: false
active_infections: []
"""


def yaml_result(engine, catalogue_ids, text: str):
    result = decide_text(engine, text, True, source="c.yaml")
    check_result(result, catalogue_ids)
    return result


def problem(result) -> str:
    assert not result.ok, result.decision
    return "\n".join(f"{p['field']}: {p['message']}" for p in result.error["problems"])


def test_the_yaml_base_case_is_approved_like_its_json_twin(engine, catalogue_ids):
    assert yaml_result(engine, catalogue_ids, BASE_YAML).decision["decision"] == "approve"


@pytest.mark.parametrize("written", ["2026-04-20", '"2026-04-20"', "'2026-04-20'"])
def test_a_date_decides_the_same_as_a_yaml_date_or_as_a_string(engine, catalogue_ids, written):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("chart_date: 2026-04-20", f"chart_date: {written}"))
    assert got.decision["decision"] == "approve"


@pytest.mark.parametrize("written", ["NO", '"NO"', "no", "No", "'no'"])
def test_norway_reaches_the_state_check_as_text_and_fails_as_no_us_state(engine, catalogue_ids, written):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("state: TX", f"state: {written}"))
    text = written.strip("'\"")
    assert problem(got) == f"member.state: expected a two-letter US state code, got {text!r}"


@pytest.mark.parametrize("written", ["no", "yes", "off", "on", "'false'", "0"])
def test_yaml_11_booleans_are_not_booleans(engine, catalogue_ids, written):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("hiv_positive: false", f"hiv_positive: {written}"))
    assert problem(got).startswith("hiv_positive: Input should be a valid boolean")


def test_a_leading_zero_is_decimal_as_in_yaml_12_not_octal(engine, catalogue_ids):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("dose_mg_per_day: 12", "dose_mg_per_day: 012"))
    assert got.decision["decision"] == "approve"  # 012 is twelve; YAML 1.1 would have read ten and denied I7


@pytest.mark.parametrize("written", ["1_000", "5:00", "0b101"])
def test_yaml_11_number_forms_are_text_and_refused_where_a_number_is_expected(engine, catalogue_ids, written):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("days: 5", f"days: {written}"))
    assert problem(got).startswith("request.days: Input should be a valid integer")


@pytest.mark.parametrize("written", ["2026-05-01T10:00:00", "2026-05-01 10:00:00", "2026-05-01T10:00:00Z", "2026-05-01t10:00:00.5-05:00"])
def test_a_yaml_date_time_is_refused_where_a_date_is_expected(engine, catalogue_ids, written):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("date: 2026-05-01,", f"date: {written},"))
    assert problem(got).startswith("request.date: expected a date as YYYY-MM-DD without a time of day, got 2026-05-01 ")


def test_an_impossible_yaml_date_names_the_field(engine, catalogue_ids):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("chart_date: 2026-04-20", "chart_date: 2026-02-30"))
    assert problem(got) == "chart_date: expected a real calendar date as YYYY-MM-DD, got '2026-02-30'"


def test_yaml_aliases_are_refused_naming_the_field(engine, catalogue_ids):
    text = BASE_YAML.replace("concurrent_dmts: []", "concurrent_dmts: &drugs [ocrelizumab]").replace(
        "active_infections: []", "active_infections: *drugs"
    )
    assert problem(yaml_result(engine, catalogue_ids, text)) == (
        "active_infections: YAML aliases (*name) are not allowed in case files (line 10 column 20)"
    )


def test_a_billion_laughs_bomb_is_refused_at_once(engine, catalogue_ids):
    bomb = 'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [{','.join(['*' + previous] * 9)}]\n"
    started = time.process_time()
    got = yaml_result(engine, catalogue_ids, bomb)
    assert time.process_time() - started < 1.0
    assert "YAML aliases (*name) are not allowed" in problem(got)


def test_a_python_object_tag_is_refused_and_never_run(engine, catalogue_ids, tmp_path):
    marker = tmp_path / "pwned"
    text = f'id: !!python/object/apply:os.system ["touch {marker}"]\n' + BASE_YAML.split("\n", 1)[1]
    got = yaml_result(engine, catalogue_ids, text)
    assert problem(got).startswith("id: YAML tag '!!python/object/apply:os.system' is not allowed in case files")
    assert not marker.exists()


@pytest.mark.parametrize(
    "replacement,field",
    [
        ("condition: !!binary bXVsdGlwbGVfc2NsZXJvc2lz", "diagnosis.condition"),
        ("condition: !custom multiple_sclerosis", "diagnosis.condition"),
        ("condition: !!set {multiple_sclerosis}", "diagnosis.condition"),
        ("condition: !!timestamp 2026-01-01", "diagnosis.condition"),
    ],
)
def test_any_yaml_tag_but_str_is_refused_naming_the_field(engine, catalogue_ids, replacement, field):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("condition: multiple_sclerosis", replacement))
    assert problem(got).startswith(f"{field}: YAML tag ")


def test_an_explicit_str_tag_is_plain_text(engine, catalogue_ids):
    got = yaml_result(engine, catalogue_ids, BASE_YAML.replace("state: TX", "state: !!str TX"))
    assert got.decision["decision"] == "approve"


@pytest.mark.parametrize(
    "text,expected",
    [
        (BASE_YAML + "id: Y-2\n", "duplicate key 'id': a case must say each thing once (line 11 column 1)"),
        (BASE_YAML + "<<: {hiv_positive: true}\n", "['<<']: unknown field"),  # no YAML merge keys
        (BASE_YAML + "? [a, b]\n: c\n", "a field name must be text, got a list (line 11 column 3)"),
        (BASE_YAML + "12: twelve\n", "a field name must be text, got 12 (line 11 column 1)"),
        (BASE_YAML + "---\n" + BASE_YAML, "malformed YAML at line 11 column 1: expected a single document in the stream, but found another document"),
        ("", "expected a case object (a mapping), got nothing"),
        ("- just\n- a list\n", "expected a case object (a mapping), got a list"),
        ("id: [unclosed\n", "malformed YAML at line 1 column 5"),  # where the bracket opens
        ("id: Y-1\nrequest: {date: 2026-05-01}\n\tx: 1\n", "malformed YAML at line 3 column 1: while scanning for the next token, found character '\\t'"),
    ],
)
def test_yaml_that_is_not_one_plain_case_is_refused_with_where(engine, catalogue_ids, text, expected):
    assert expected in problem(yaml_result(engine, catalogue_ids, text))


# --- a JSON Lines batch with every kind of bad line -------------------------------


def test_a_batch_with_every_kind_of_bad_line_decides_the_good_ones_and_numbers_the_bad(tmp_path):
    good = lambda i: json.dumps({**INITIAL, "id": f"G-{i}"}).encode()  # noqa: E731
    lines = [
        good(1),                                                      # 1 decided
        b'{"id": "M-1", "request": ',                                  # 2 malformed JSON
        json.dumps({**INITIAL, "id": "S-1", "hiv_positive": "no"}).encode(),  # 3 schema error
        good(1),                                                      # 4 duplicate id
        b"",                                                          # 5 blank: skipped
        b'{"id": "' + b"x" * MAX_CASE_BYTES + b'"}',                  # 6 over the size limit
        b'{"id": "U-1", "diagnosis": {"condition": "\xff"}}',          # 7 not UTF-8
        b"   \t",                                                     # 8 blank: skipped
        json.dumps({**INITIAL, "id": "D", "id2": 1}).replace('"id2"', '"id"').encode(),  # 9 duplicate key
        good(2),                                                      # 10 decided
    ]
    batch = tmp_path / "b.jsonl"
    batch.write_bytes(b"\n".join(lines))  # no newline after the last line
    result = counted(lambda: CliRunner().invoke(main, ["decide", str(batch), "--format", "json"]), inputs=8)
    assert result.exit_code == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["source"] for o in out] == [f"{batch}:{n}" for n in (1, 2, 3, 4, 6, 7, 9, 10)]
    assert [o.get("decision", o.get("error")) for o in out] == [
        "approve", "invalid_input", "invalid_input", "invalid_input", "invalid_input", "invalid_input", "invalid_input", "approve"
    ]
    for n, words in [
        (2, "malformed JSON at line 1 column 26: Expecting value"),
        (3, "hiv_positive: Input should be a valid boolean"),
        (4, f"id: duplicate case id 'G-1', first used at {batch}:1"),
        (6, "line is longer than the 1,000,000-byte limit for one case"),
        (7, "not UTF-8 text (byte 43)"),
        (9, "duplicate key 'id'"),
    ]:
        assert f"error: {batch}:{n}: {words}" in result.stderr
    assert "6 invalid cases; the others were decided." in result.stderr
    assert "Traceback" not in result.stderr
    TALLY.update(decided=2, refused=6)


def test_a_batch_on_standard_input_numbers_its_lines_too():
    lines = [json.dumps({**INITIAL, "id": "I-1"}), "{broken", "", json.dumps({**INITIAL, "id": "I-2"})]
    result = counted(
        lambda: CliRunner().invoke(main, ["decide", "-", "--format", "json"], input="\n".join(lines) + "\n"), inputs=3
    )
    assert result.exit_code == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["source"] for o in out] == ["<stdin>:1", "<stdin>:2", "<stdin>:4"]
    assert [o.get("decision", o.get("error")) for o in out] == ["approve", "invalid_input", "approve"]
    TALLY.update(decided=2, refused=1)
