"""Limits: oversized files, deep nesting, huge lists and numbers are refused quickly.

The limits (README, "Case format"): 1,000,000 bytes per case, 100 entries per
list, 10 levels of nesting, 30 digits per whole number. Each test feeds input far
past a limit and checks the answer is an input error naming the field, within a
time bound set ten times above the measured figure; nothing may recurse, hang or
exhaust memory. Run this file as a script for the figures themselves:

    /work/venv/bin/python tests/test_limits.py
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CONTINUATION, INITIAL, KB_DIR, vary
from hostile_checks import TALLY, check_result, counted, report_to
from lemtrada_asp.engine.batch import decide_paths, decide_records
from lemtrada_asp.cli import main
from lemtrada_asp.engine.errors import CaseValidationError
from lemtrada_asp.engine.loading import MAX_CASE_BYTES, Record
from lemtrada_asp.case.model import MAX_DIGITS, MAX_LIST_ITEMS, MAX_NESTING, MAX_PROBLEMS, validate_case

DEEP = 100_000
HUGE = 100_000


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    before = TALLY.copy()
    yield
    report_to(request.config, "limits (test_limits.py)", before)


def answer(engine, catalogue_ids, text: str, as_yaml: bool = False, within: float = 2.0):
    """Decide one case text; it must answer within `within` seconds of CPU time (a hang, not a speed, check)."""
    started = time.process_time()
    [result] = counted(lambda: list(decide_records(engine, [Record("big.yaml" if as_yaml else "big.json", text, as_yaml)])))
    elapsed = time.process_time() - started
    assert elapsed < within, f"took {elapsed:.2f} s"
    check_result(result, catalogue_ids)
    return result


def only_problem(result) -> tuple[str, str]:
    assert not result.ok, result.decision
    [problem] = result.error["problems"]
    return problem["field"], problem["message"]


def padded_json(case: dict, size: int) -> str:
    text = json.dumps(case)
    return text[:-1] + " " * (size - len(text.encode())) + "}"


# --- the size of one case ----------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_case_file_of_exactly_the_size_limit_is_decided_and_one_byte_more_is_refused(tmp_path, catalogue_ids, suffix):
    at_limit, over = tmp_path / f"at{suffix}", tmp_path / f"over{suffix}"
    at_limit.write_text(padded_json(INITIAL, MAX_CASE_BYTES))
    over.write_text(padded_json(vary(INITIAL, {"id": "T-OVER"}), MAX_CASE_BYTES + 1))
    assert at_limit.stat().st_size == MAX_CASE_BYTES and over.stat().st_size == MAX_CASE_BYTES + 1
    results = counted(lambda: list(decide_paths([str(at_limit), str(over)], KB_DIR)), inputs=2)
    assert [check_result(r, catalogue_ids) for r in results] == ["decided", "refused"]
    assert results[1].error_text == f"{over}: file is larger than the 1,000,000-byte limit for one case"


def test_standard_input_over_the_size_limit_is_refused_without_reading_it_all(catalogue_ids):
    data = "id: X\n" + "#" * (20 * MAX_CASE_BYTES)  # 20 MB of YAML comment
    result = counted(lambda: CliRunner().invoke(main, ["decide", "-"], input=data))
    assert result.exit_code == 2
    assert "<stdin>: input is larger than the 1,000,000-byte limit for one case" in result.stderr
    TALLY["refused"] += 1


def test_a_json_lines_line_of_exactly_the_size_limit_is_decided(tmp_path, catalogue_ids):
    batch = tmp_path / "b.jsonl"
    batch.write_text(padded_json(INITIAL, MAX_CASE_BYTES) + "\n" + padded_json(vary(INITIAL, {"id": "T-2"}), MAX_CASE_BYTES + 1) + "\n")
    results = counted(lambda: list(decide_paths([str(batch)], KB_DIR)), inputs=2)
    assert [check_result(r, catalogue_ids) for r in results] == ["decided", "refused"]
    assert results[1].error_text == f"{batch}:2: line is longer than the 1,000,000-byte limit for one case"


def test_a_record_handed_over_by_a_caller_is_held_to_the_same_limit(engine, catalogue_ids):
    result = answer(engine, catalogue_ids, padded_json(INITIAL, MAX_CASE_BYTES + 1))
    assert only_problem(result) == ("", "case is larger than the 1,000,000-byte limit for one case")


# --- nesting ---------------------------------------------------------------------


def test_json_nested_100000_deep_is_refused_naming_where(engine, catalogue_ids):
    result = answer(engine, catalogue_ids, "[" * DEEP + "]" * DEEP)
    field, message = only_problem(result)
    assert field == "[0]" * MAX_NESTING
    assert message == f"nested more than {MAX_NESTING} levels deep; a case nests at most 3 (line 1 column {MAX_NESTING + 1})"


def test_a_field_nested_100000_deep_in_a_case_is_refused_naming_the_field(engine, catalogue_ids):
    deep = "[" * DEEP + '"multiple_sclerosis"' + "]" * DEEP
    text = json.dumps(vary(INITIAL, {"diagnosis.condition": "HOLE"})).replace('"HOLE"', deep)
    field, message = only_problem(answer(engine, catalogue_ids, text))
    assert field == "diagnosis.condition" + "[0]" * (MAX_NESTING - 2)
    assert message.startswith(f"nested more than {MAX_NESTING} levels deep")


@pytest.mark.parametrize(
    "name,text",
    [
        ("flow sequences", "[" * DEEP + "]" * DEEP),
        ("flow mappings", "{a: " * DEEP + "}" * DEEP),
        ("block sequences", "- " * DEEP + "x\n"),
        ("block mappings", "".join(" " * i + "a:\n" for i in range(1400))),  # 1,400 levels fill 1 MB
    ],
)
def test_yaml_nested_past_any_reasonable_depth_is_refused_naming_where(engine, catalogue_ids, name, text):
    assert len(text.encode()) <= MAX_CASE_BYTES
    field, message = only_problem(answer(engine, catalogue_ids, text, as_yaml=True))
    assert message.startswith(f"nested more than {MAX_NESTING} levels deep; a case nests at most 3 (line ")
    assert field.count("[0]") + field.count("a") == MAX_NESTING


def test_a_python_object_nested_100000_deep_is_refused_without_recursion():
    value: object = "multiple_sclerosis"
    for _ in range(DEEP):
        value = [value]
    with pytest.raises(CaseValidationError) as caught:
        counted(lambda: validate_case(vary(INITIAL, {"diagnosis.condition": value}), "api"))
    [problem] = caught.value.problems
    assert problem.field == "diagnosis.condition" + "[0]" * (MAX_NESTING - 2)
    TALLY["refused"] += 1


NO_STACK_OVERFLOW = r"""
import json, sys
sys.setrecursionlimit(10**7)  # a C parser trusting the recursion limit would now overflow the C stack
from lemtrada_asp.engine.loading import Record, parse_record
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.engine.errors import CaseValidationError
N = 150_000
for text, as_yaml in [("[" * N + "]" * N, False), ('{"a":' * N + "1" + "}" * N, False), ("[" * N + "]" * N, True)]:
    print(parse_record(Record("deep", text, as_yaml), validate_case).error.problems[0].message.split(";")[0])
value = 1
for _ in range(N):
    value = {"x": value}
try:
    validate_case({"id": "A", "request": value}, "api")
except CaseValidationError as exc:
    print(exc.problems[0].message.split(";")[0])
"""


def test_deep_nesting_cannot_overflow_the_c_stack_even_with_no_recursion_limit():
    # In a child process: were any parser to recurse per level, this would end in a
    # segmentation fault instead of four messages.
    done = subprocess.run([sys.executable, "-c", NO_STACK_OVERFLOW], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"nested more than {MAX_NESTING} levels deep"] * 4
    TALLY.update(inputs=4, refused=4)


# --- huge lists --------------------------------------------------------------------

HUGE_LISTS = {
    "dmt_history": {"drug": "natalizumab", "outcome": "failed"},
    "active_infections": "flu",
    "request.diagnosis_codes": "G35",
    "concurrent_dmts": "ocrelizumab",
    "lemtrada_courses": {"start_date": "2020-01-01", "days": 5},
    "response.objective": "mri_activity_reduced",
}


@pytest.mark.parametrize("field", list(HUGE_LISTS))
def test_a_list_of_100000_entries_is_refused_naming_the_list(engine, catalogue_ids, field):
    text = json.dumps(vary(INITIAL, {field: [HUGE_LISTS[field]] * HUGE}), separators=(",", ":"))
    result = answer(engine, catalogue_ids, text)
    if len(text.encode()) > MAX_CASE_BYTES:
        assert only_problem(result) == ("", "case is larger than the 1,000,000-byte limit for one case")
    else:
        assert only_problem(result) == (field, f"expected at most {MAX_LIST_ITEMS} entries (this tool's limit), got 100,000")


@pytest.mark.parametrize("field", list(HUGE_LISTS))
def test_a_list_of_100000_entries_handed_over_as_data_is_refused_at_once(field):
    case = vary(INITIAL, {field: [HUGE_LISTS[field]] * HUGE})
    started = time.process_time()
    with pytest.raises(CaseValidationError) as caught:
        counted(lambda: validate_case(case, "api"))
    assert time.process_time() - started < 2.0
    assert [(p.field, p.message) for p in caught.value.problems] == [
        (field, f"expected at most {MAX_LIST_ITEMS} entries (this tool's limit), got 100,000")
    ]
    TALLY["refused"] += 1


def maximal_case(ident: str = "T-MAX") -> dict:
    """A valid case with every list at the limit and every text at 200 characters."""
    drugs = ["natalizumab", "fingolimod", "ocrelizumab", "teriflunomide"]
    return vary(
        INITIAL,
        {
            "id": ident,
            "request.diagnosis_codes": [f"G35.{i:03d}" for i in range(MAX_LIST_ITEMS)],
            "diagnosis.condition": "multiple_sclerosis" + " " * 182,
            "dmt_history": [{"drug": drugs[i % 4], "outcome": "failed"} for i in range(MAX_LIST_ITEMS)],
            "concurrent_dmts": [drugs[i % 4] for i in range(MAX_LIST_ITEMS)],
            "active_infections": [f"infection {i:03d} " + "x" * 186 for i in range(MAX_LIST_ITEMS)],
            # distinct courses: two identical ones are an input error (case format)
            # one course a quarter from 2000 on: as many as the limit allows, none overlapping another (an input error)
            "lemtrada_courses": [{"start_date": f"{2000 + i // 4}-{1 + 3 * (i % 4):02d}-01", "days": 5} for i in range(MAX_LIST_ITEMS)],
            "response": {"objective": ["mri_activity_reduced"] * MAX_LIST_ITEMS, "symptoms": ["fatigue"] * MAX_LIST_ITEMS},
        },
    )


def test_lists_at_the_limit_are_decided_and_one_entry_more_is_refused(engine, catalogue_ids):
    result = answer(engine, catalogue_ids, json.dumps(maximal_case()), within=5.0)
    assert result.decision["decision"] == "deny"  # concurrent DMTs (E1) and infections (E5), whatever else
    assert {"E1", "E5"} <= {f["id"] for f in result.decision["failed"]}
    over = maximal_case()
    over["active_infections"].append("one more")
    field, message = only_problem(answer(engine, catalogue_ids, json.dumps(over)))
    assert (field, message) == ("active_infections", f"expected at most {MAX_LIST_ITEMS} entries (this tool's limit), got 101")


def test_a_batch_of_maximal_cases_is_decided_in_bounded_time(engine, catalogue_ids):
    records = [Record(f"m{i}.json", json.dumps(maximal_case(f"M-{i}"))) for i in range(50)]
    started = time.process_time()
    results = counted(lambda: list(decide_records(engine, records)), inputs=len(records))
    assert time.process_time() - started < 20  # about 20 ms a case measured; see _measure below
    assert {check_result(r, catalogue_ids) for r in results} == {"decided"}


# --- numbers and the number of problems --------------------------------------------


@pytest.mark.parametrize("as_yaml", [False, True])
def test_a_number_of_a_million_digits_is_refused_without_converting_it(engine, catalogue_ids, as_yaml):
    digits = "9" * (MAX_CASE_BYTES - 1000)
    text = json.dumps(vary(INITIAL, {"request.days": "HOLE"})).replace('"HOLE"', digits)
    field, message = only_problem(answer(engine, catalogue_ids, text, as_yaml=as_yaml))
    assert field == "request.days"
    assert message == f"expected a number of at most {MAX_DIGITS} digits, got one of {len(digits):,} digits"


def test_a_number_of_30_digits_is_read_and_judged_and_of_31_is_refused(engine, catalogue_ids):
    thirty = answer(engine, catalogue_ids, json.dumps(vary(INITIAL, {"request.dose_mg_per_day": 10**29})))
    assert "I7" in {f["id"] for f in thirty.decision["failed"]}
    thirty_one = answer(engine, catalogue_ids, json.dumps(vary(INITIAL, {"request.dose_mg_per_day": 10**30})))
    assert only_problem(thirty_one)[0] == "request.dose_mg_per_day"


def test_a_case_with_a_thousand_problems_reports_the_first_twenty_and_counts_the_rest(engine, catalogue_ids):
    case = {**INITIAL, **{f"unknown_{i}": i for i in range(1000)}}
    result = answer(engine, catalogue_ids, json.dumps(case))
    problems = result.error["problems"]
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == {"field": "", "message": f"... and {1000 - MAX_PROBLEMS} more problems"}


@pytest.mark.parametrize("field", ["member.state", "id", "diagnosis.condition", "request.date", "dmt_history"])
def test_a_megabyte_of_text_in_a_field_gives_a_short_message(engine, catalogue_ids, field):
    text = json.dumps(vary(INITIAL, {field: "A" * (MAX_CASE_BYTES - 1000)}))
    result = answer(engine, catalogue_ids, text)
    assert only_problem(result)[0] == field
    assert len(result.error_text) < 400


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("name", ["endless.jsonl", "endless.json"])
def test_a_case_file_that_is_an_endless_device_is_refused_not_read_forever(tmp_path, catalogue_ids, name):
    link = tmp_path / name
    link.symlink_to("/dev/zero")
    [result] = counted(lambda: list(decide_paths([str(link)], KB_DIR)))
    assert check_result(result, catalogue_ids) == "refused"
    assert result.error_text == f"{link}: not a regular file (a device)"


# --- the figures ---------------------------------------------------------------------


def _measure() -> None:  # pragma: no cover - run by hand, prints what the README quotes
    import resource

    from lemtrada_asp.engine.engine import Engine
    from lemtrada_asp.engine.knowledge import KnowledgeBase

    engine = Engine(KnowledgeBase(KB_DIR))

    def timed(label: str, records: list[Record]) -> None:
        started = time.process_time()
        results = list(decide_records(engine, records))
        elapsed = time.process_time() - started
        outcome = results[0].decision["decision"] if results[0].ok else results[0].error["problems"][0]["message"][:60]
        print(f"{label:58} {elapsed * 1000:9.1f} ms  {outcome}")

    print(f"{'input':58} {'time':>12}  first answer")
    timed("JSON nested 100,000 deep", [Record("x.json", "[" * DEEP + "]" * DEEP)])
    timed("YAML flow nested 100,000 deep", [Record("x.yaml", "[" * DEEP + "]" * DEEP, True)])
    timed("YAML block sequences nested 100,000 deep", [Record("x.yaml", "- " * DEEP + "x", True)])
    for field, entry in HUGE_LISTS.items():
        text = json.dumps(vary(INITIAL, {field: [entry] * HUGE}), separators=(",", ":"))
        timed(f"{field}: 100,000 entries ({len(text):,} bytes)", [Record("x.json", text)])
    timed("JSON of 333,000 empty lists (1 MB, the slowest nesting scan)", [Record("x.json", "[" + "[]," * 333_000 + "[]]")])
    timed("YAML of 1 MB plain text (the slowest YAML read)", [Record("x.yaml", "a: " + "b " * 499_000, True)])
    timed("number of 999,000 digits", [Record("x.json", json.dumps(vary(INITIAL, {"request.days": 0})).replace(": 0", ": " + "9" * 999_000, 1))])
    timed("1 maximal valid case (every list at 100)", [Record("m.json", json.dumps(maximal_case()))])
    timed("200 maximal valid cases (one chunk)", [Record(f"m{i}", json.dumps(maximal_case(f"M-{i}"))) for i in range(200)])
    timed("1,000 maximal valid cases", [Record(f"m{i}", json.dumps(maximal_case(f"M-{i}"))) for i in range(1000)])
    timed("1 ordinary case", [Record("c.json", json.dumps(copy.deepcopy(CONTINUATION)))])
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).parent))
    _measure()
