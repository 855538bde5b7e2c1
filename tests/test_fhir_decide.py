"""``lemtrada-asp decide`` reading PAS request Bundles (fhir-pas.md, "decide and Bundles")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PAS = Path(__file__).parent / "fixtures" / "pas"


def decide(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lemtrada_asp", "decide", *args, "--no-corrections"],
                          input=stdin, capture_output=True, timeout=120)


def bundle() -> dict:
    return json.loads((PAS / "approve-initial.bundle.json").read_text())


def test_an_unreadable_bundle_is_an_input_error_at_its_fhirpath(tmp_path):
    bad = bundle()
    bad["entry"][5]["resource"]["dosageInstruction"][0]["timing"]["repeat"]["periodUnit"] = "wk"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    text = decide(str(path))
    assert text.returncode == 2
    assert (f"{path}: Bundle.entry[5].resource.dosageInstruction[0].timing.repeat.periodUnit: "
            "periodUnit 'd'" in text.stderr.decode().replace("expected periodUnit", "periodUnit"))
    as_json = decide(str(path), "--format", "json")
    error = json.loads(as_json.stdout)
    assert as_json.returncode == 2 and error["error"] == "invalid_input" and error["case_id"] == "PA-1001"
    assert [p["field"] for p in error["problems"]] == ["Bundle.entry[5].resource.dosageInstruction[0].timing.repeat.periodUnit"]


def test_another_resource_type_is_an_input_error(tmp_path):
    r = decide(str(PAS / "medicationrequest0317.json"))
    assert r.returncode == 2 and b"resourceType" in r.stderr and b"Traceback" not in r.stderr


def test_a_bundle_on_standard_input_and_in_json_lines_is_read_as_from_a_file(tmp_path):
    from_file = json.loads(decide(str(PAS / "cis.bundle.json"), "--format", "json").stdout)
    from_stdin = json.loads(decide("-", "--format", "json", stdin=(PAS / "cis.bundle.json").read_bytes()).stdout)
    lines = tmp_path / "bundles.jsonl"
    lines.write_text(json.dumps(json.loads((PAS / "cis.bundle.json").read_text())) + "\n")
    from_line = json.loads(decide(str(lines), "--format", "json").stdout)
    for d in (from_file, from_stdin, from_line):
        d.pop("source")
    assert from_file == from_stdin == from_line and from_file["decision"] == "deny"


def test_a_bundle_file_may_be_ten_million_bytes_but_a_case_file_one_million(tmp_path):
    big = bundle()
    big["entry"].append({"fullUrl": "urn:uuid:doc", "resource": {
        "resourceType": "DocumentReference", "status": "current",
        "content": [{"attachment": {"contentType": "text/plain", "data": "QUJD" * 1_500_000}}]}})
    path = tmp_path / "big.json"
    path.write_text(json.dumps(big))
    assert 5_000_000 < path.stat().st_size < 10_000_000
    assert json.loads(decide(str(path), "--format", "json").stdout)["decision"] == "approve"
    big["entry"][-1]["resource"]["content"][0]["attachment"]["data"] = "QUJD" * 2_600_000
    path.write_text(json.dumps(big))
    r = decide(str(path))
    assert r.returncode == 2 and b"10,000,000-byte limit" in r.stderr
    case = json.loads((PAS / "approve-initial.case.json").read_text())
    case["active_infections"] = ["x" * 150] * 8000  # >1 MB of case
    (tmp_path / "case.json").write_text(json.dumps(case))
    r = decide(str(tmp_path / "case.json"))
    assert r.returncode == 2 and b"1,000,000-byte limit" in r.stderr


def test_a_bundle_may_nest_64_levels_though_a_case_nests_10(tmp_path):
    def nested(wraps: int) -> Path:
        # Objects and lists both count, as for cases: the innermost extension is at level 6 + 2 * wraps.
        deep: dict = {"url": "http://example.org/x", "valueString": "leaf"}
        for _ in range(wraps):
            deep = {"url": "http://example.org/x", "extension": [deep]}
        data = bundle()
        data["entry"][7]["resource"]["extension"] = [deep]
        path = tmp_path / f"deep{wraps}.json"
        path.write_text(json.dumps(data))
        return path

    assert json.loads(decide(str(nested(29)), "--format", "json").stdout)["decision"] == "approve"  # 64 levels
    refused = decide(str(nested(30)))  # 66 levels
    assert refused.returncode == 2 and b"nested more than 64 levels deep" in refused.stderr
