"""``explain``: the whole criteria tree of one case, through clingo and the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import CASES_DIR, INITIAL, vary
from lemtrada_asp.cli import main
from lemtrada_asp.engine.loading import is_case_file

EXAMPLES = sorted(p for p in CASES_DIR.iterdir() if is_case_file(p))
ANSI = "\x1b["


def explain(tmp_path, data, *options, color=False):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data))
    return CliRunner().invoke(main, ["explain", str(path), *options], color=color)


def walk(nodes, depth=0):
    for node in nodes:
        yield node, depth
        yield from walk(node.get("children", []), depth + 1)


def test_the_json_tree_holds_every_criterion_of_the_review_and_every_exclusion(tmp_path):
    data = json.loads(explain(tmp_path, INITIAL, "--format", "json").output)
    tops = sorted(n["id"] for n in data["criteria"])
    assert tops == sorted(["I0", "I1", "I2", "I3", "I4", "I5", "I6", "I7", "B1", "E1", "E2", "E3", "E4", "E5", "E6"])
    ids = {n["id"] for n, _ in walk(data["criteria"])}
    assert {"I3.a", "I3.b", "I4.a", "I4.b", "I4.b.i", "I4.b.ii", "I4.b.iii", "I5.a", "I5.b"} <= ids
    assert data["guideline"] == {"name": "Lemtrada (Alemtuzumab) clinical guideline", "revised": "04/01/2026"}
    assert data["corrections"] is None  # an approval has nothing to correct


def test_failing_branches_come_first_then_missing_then_what_passed(tmp_path):
    case = vary(INITIAL, {"request.days": 3, "member.birth_date": None, "diagnosis.ms_course": "primary_progressive"})
    del case["member"]["birth_date"]
    data = json.loads(explain(tmp_path, case, "--format", "json").output)
    statuses = [n["status"] for n in data["criteria"]]
    assert [n["id"] for n in data["criteria"][:4]] == ["I3", "I7", "E4", "I2"]
    assert statuses[:4] == ["not_met", "not_met", "applies", "undocumented"]
    assert set(statuses[4:]) <= {"met", "does_not_apply"}


def test_each_leaf_carries_its_section_and_the_case_facts_behind_it(tmp_path):
    case = vary(INITIAL, {"dmt_history": [{"drug": "Tysabri", "outcome": "effective"}]})
    data = json.loads(explain(tmp_path, case, "--format", "json").output)
    nodes = {n["id"]: n for n, _ in walk(data["criteria"])}
    assert nodes["I4.a"]["section"] == "Initial criteria, 4.a"
    assert nodes["I4.a"]["facts"] == ["dmt_history[0]: natalizumab outcome effective"]
    assert nodes["I4.b.i"]["status"] == "undocumented"
    assert nodes["I4.b.i"]["needed"].startswith("records of a dimethyl fumarate")
    assert nodes["I2"]["facts"] == ["member.birth_date 1990-04-02: age 36 on request.date 2026-05-01"]
    assert [c["id"] for c in nodes["I4"]["children"]] == ["I4.a", "I4.b"]  # I4.a not met, I4.b undocumented


def test_the_text_tree_is_indented_with_status_marks_and_ends_with_the_corrections(tmp_path):
    result = explain(tmp_path, vary(INITIAL, {"request.days": 3}))
    lines = result.output.splitlines()
    assert result.exit_code == 0
    assert lines[0].startswith("knowledge base: ") and "sha256:" in lines[0]  # the KB that decided
    assert lines[1] == "T-INITIAL: DENY"
    assert any(line.startswith("✗ I7 ") and line.endswith("not met  [Initial criteria, 7]") for line in lines)
    assert any(line.startswith("  ✓ I4.a ") for line in lines)
    assert "    because request.days: 3" in lines
    assert lines[-1].startswith("  1. I7 a requested dose of 12 mg/day on 5 consecutive days")
    assert ANSI not in result.output  # not a terminal: no colour


def test_colour_is_added_only_when_the_output_takes_it(tmp_path):
    result = explain(tmp_path, vary(INITIAL, {"request.days": 3}), color=True)
    assert ANSI + "31" in result.output  # red for not met
    assert ANSI + "32" in result.output  # green for met


def test_markdown_nests_the_tree_and_escapes_case_text(tmp_path):
    case = vary(INITIAL, {"active_infections": ["*bold* <script>x</script>"]})
    result = explain(tmp_path, case, "--format", "markdown")
    assert result.output.startswith("# T-INITIAL: deny\n")
    assert "- ✗ **I5** No evidence of HIV infection and no evidence of active infections: **not met**" in result.output
    assert '  - ✗ **I5.b**' in result.output
    assert "\\*bold\\* \\<script\\>x\\</script\\>" in result.output
    assert "<script>" not in result.output


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name.rsplit(".", 1)[0] for p in EXAMPLES])
def test_explain_works_on_every_example_case_in_every_format(path):
    for fmt in ("text", "json", "markdown"):
        result = CliRunner().invoke(main, ["explain", str(path), "--format", fmt])
        assert result.exit_code == 0, result.output
    data = json.loads(CliRunner().invoke(main, ["explain", str(path), "--format", "json"]).stdout)
    assert all(n["status"] != "unknown" for n, _ in walk(data["criteria"]))


def test_explain_takes_exactly_one_case(tmp_path):
    many = tmp_path / "many.jsonl"
    many.write_text("\n".join(json.dumps(vary(INITIAL, {"id": f"M-{i}"})) for i in range(2)) + "\n")
    result = CliRunner().invoke(main, ["explain", str(many)])
    assert result.exit_code == 2
    assert "expected exactly one case, found 2 cases" in result.output


def test_an_invalid_case_is_a_message_naming_file_and_field(tmp_path):
    result = explain(tmp_path, vary(INITIAL, {"request.days": "five"}))
    assert result.exit_code == 2
    assert "case.json" in result.output and "request.days" in result.output
    assert "Traceback" not in result.output
