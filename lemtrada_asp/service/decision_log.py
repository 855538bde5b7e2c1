"""The decision log: one JSON line per decision, durable before the answer is sent.

In the spirit of OPA's decision logs: each line holds what is needed to audit
and to replay a decision -- its id and time, the input as received, the case it
became, the decision, the KB version and the tool version. A line is written
with one ``write`` on a file opened with O_APPEND (so lines of several worker
processes never interleave) and ``fsync``ed before the caller answers, so a
crash or ``kill -9`` can lose only lines of requests that were never answered
and never leaves a torn one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

# Where a PAS Bundle carries member identifiers: the Patient's identifiers and the
# Coverage's subscriber and member ids (and identifiers).
MASKED = {"Patient": ("identifier",), "Coverage": ("identifier", "subscriberId")}


def mask_value(value: str) -> str:
    """A stable stand-in: the same id masks the same way, so lines stay comparable."""
    return "masked:" + hashlib.sha256(value.encode()).hexdigest()[:16]


def mask_member_ids(data: Any) -> Any:
    """A copy of a request with every member identifier value masked (resources anywhere in it)."""
    data = copy.deepcopy(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for name in MASKED.get(node.get("resourceType"), ()):
                value = node.get(name)
                if isinstance(value, str):
                    node[name] = mask_value(value)
                elif isinstance(value, list):
                    for ident in value:
                        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                            ident["value"] = mask_value(ident["value"])
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return data


class DecisionLog:
    """Appends decision lines to one file; safe to share between threads and processes."""

    def __init__(self, path: str, mask: bool = False):
        self.path = path
        self.mask = mask
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def record(self, *, endpoint: str, received: Any, case: dict, decision: dict, kb_version: str,
               tool_version: str, decision_id: str | None = None) -> str:
        """Write one line and make it durable; returns the decision id."""
        decision_id = decision_id or str(uuid.uuid4())
        line = {
            "decision_id": decision_id,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "endpoint": endpoint,
            "input": mask_member_ids(received) if self.mask else received,
            "case": case,
            "decision": decision,
            "kb_version": kb_version,
            "tool_version": tool_version,
            "masked": self.mask,
        }
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            written = os.write(self._fd, data)
            while written < len(data):  # a regular file takes it whole; this only guards a short write
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        return decision_id

    def close(self) -> None:
        os.close(self._fd)


def read_log(path: str) -> list[dict]:
    """Every complete line of a decision log; a last line without its newline (never answered) is skipped."""
    lines = []
    with open(path, "rb") as f:
        for raw in f:
            if raw.endswith(b"\n"):
                lines.append(json.loads(raw))
    return lines
