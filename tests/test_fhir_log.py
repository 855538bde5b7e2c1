"""The decision log on its own: masking member identifiers, whole lines from many writers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from lemtrada_asp.service.decision_log import DecisionLog, mask_request, mask_value, read_log

KEY = b"a test key of 32 bytes, not real"

PAS = Path(__file__).parent / "fixtures" / "pas"


def test_member_identifiers_are_masked_wherever_the_resources_are():
    bundle = json.loads((PAS / "approve-initial.bundle.json").read_text())
    bundle["entry"][0]["resource"]["contained"] = [
        {"resourceType": "Patient", "id": "p", "identifier": [{"system": "urn:x", "value": "MEMBER-7"}]}]
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": bundle}]}
    masked = mask_request(wrapped, KEY)
    text = json.dumps(masked)
    assert "12345678901" not in text and "1122334455" not in text and "MEMBER-7" not in text
    inner = masked["parameter"][0]["resource"]
    assert inner["entry"][4]["resource"]["identifier"][0]["value"] == mask_value("12345678901", KEY)
    assert inner["entry"][3]["resource"]["subscriberId"] == mask_value("1122334455", KEY)
    assert inner["entry"][1]["resource"]["identifier"] == bundle["entry"][1]["resource"]["identifier"]  # an NPI, not a member id
    assert json.dumps(wrapped).count("12345678901") == 1  # the input itself is left as it was


def test_lines_of_many_writers_stay_whole_and_chained_and_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "log.jsonl"
    logs = [DecisionLog(str(path)) for _ in range(2)]  # two opens of one file, as two workers do

    def write(log: DecisionLog, n: int) -> None:
        for i in range(50):
            log.record(endpoint="v1/decide", received={"pad": "x" * 5000, "n": n}, case={"id": f"C-{n}-{i}"},
                       decision={"decision": "pend"}, kb_version="sha256:0", tool_version="t")

    threads = [threading.Thread(target=write, args=(logs[k % 2], k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = read_log(str(path))
    assert len(lines) == 200 and len({line["decision_id"] for line in lines}) == 200
    from lemtrada_asp.service.decision_log import verify

    assert [line["seq"] for line in lines] == list(range(1, 201)) and list(verify([str(path)])) == []
    with path.open("ab") as f:
        f.write(b'{"decision_id": "torn", "ti')
    assert len(read_log(str(path))) == 200
