"""Policy versions (engine/versions.py): each case under the version in force on its date.

versions/ holds the shipped KB (2026-04-01, a link to kb/) and an analyst's
successor (2026-10-01, an overlay: initial review from age 17).
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import INITIAL, REPO, vary
from lemtrada_asp.cli import main
from lemtrada_asp.engine.knowledge import KnowledgeBase

VERSIONS = REPO / "versions"
SEVENTEEN = {"member.birth_date": "2009-01-01"}  # 17 on both request dates below


def corpus(tmp_path):
    cases = [
        vary(INITIAL, {"id": "OLD", "request.date": "2026-05-01", **SEVENTEEN}),
        vary(INITIAL, {"id": "NEW", "request.date": "2026-11-02", "chart_date": "2026-10-20", **SEVENTEEN}),
        vary(INITIAL, {"id": "EDGE", "request.date": "2026-10-01", "chart_date": "2026-09-20", **SEVENTEEN}),
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


def decide(*args):
    result = CliRunner().invoke(main, ["decide", "--format", "json", "--no-corrections", *map(str, args)])
    return result, [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_each_case_is_decided_under_the_version_in_force_on_its_request_date(tmp_path):
    result, decisions = decide("--versions", VERSIONS, corpus(tmp_path))
    assert result.exit_code == 0, result.output
    by_id = {d["case_id"]: d for d in decisions}
    assert by_id["OLD"]["decision"] == "deny" and [f["id"] for f in by_id["OLD"]["failed"]] == ["I2"]
    assert by_id["OLD"]["policy_version"] == {"name": "2026-04-01", "revised": "04/01/2026", "effective": "2026-04-01"}
    assert by_id["NEW"]["decision"] == "approve"
    assert by_id["NEW"]["policy_version"] == {"name": "2026-10-01", "revised": "10/01/2026", "effective": "2026-10-01"}
    assert by_id["EDGE"]["policy_version"]["name"] == "2026-10-01"  # in force from its effective date itself
    assert by_id["OLD"]["kb_version"] == KnowledgeBase(REPO / "kb").version != by_id["NEW"]["kb_version"]


def test_as_of_decides_every_case_under_one_version(tmp_path):
    result, decisions = decide("--versions", VERSIONS, "--as-of", "2026-10-01", corpus(tmp_path))
    assert result.exit_code == 0
    assert {d["policy_version"]["name"] for d in decisions} == {"2026-10-01"}
    assert {d["decision"] for d in decisions} == {"approve"}


def test_a_request_before_the_first_version_is_an_input_error(tmp_path):
    path = tmp_path / "early.json"
    path.write_text(json.dumps(vary(INITIAL, {"id": "EARLY", "request.date": "2026-03-31", "chart_date": "2026-03-01"})))
    result, decisions = decide("--versions", VERSIONS, path, tmp_path / "none")
    assert result.exit_code == 2
    assert "request.date: 2026-03-31 is before the first policy version in force (2026-04-01" in result.output
    assert decide("--versions", VERSIONS, "--as-of", "2026-01-01", corpus(tmp_path))[0].exit_code == 2


def test_a_diff_between_two_versions_is_like_any_other(tmp_path):
    result = CliRunner().invoke(main, ["diff", "--format", "json", "--base", str(VERSIONS / "2026-04-01"),
                                       "--kb", str(VERSIONS / "2026-10-01"), str(corpus(tmp_path))])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0]["summary"]["changed"] == 3  # a diff ignores request dates: every 17-year-old changes
    assert all(line["statuses"] == {"I2": {"base": "not_met", "kb": "met"}} for line in lines[1:])


def test_the_text_output_names_the_version(tmp_path):
    result = CliRunner().invoke(main, ["decide", "--no-corrections", "--versions", str(VERSIONS), str(corpus(tmp_path))])
    assert "policy version 2026-10-01: revised 10/01/2026, in force from 2026-10-01" in result.output
