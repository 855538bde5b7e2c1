"""Decisions as text for a person at a terminal, and as JSON Lines for programs."""

from __future__ import annotations

import unicodedata

__all__ = ["STATUS_WORDS", "as_text", "error_text", "printable"]

STATUS_WORDS = {
    "not_met": "not met",
    "applies": "applies",
    "undocumented": "not documented",
    "met": "met",
    "does_not_apply": "does not apply",
}


def printable(text: object) -> str:
    """Text with every control character escaped (``\\n``, ``\\x1b``, ``\\u202e``).

    A name printed at a terminal (a file name, a case id, a source) comes from
    whoever made the file: a newline or an escape sequence in it must not print
    a line of its own (a fake ``EX-9: APPROVE``) or move the cursor.
    """
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return "".join(out)


def error_text(error: dict) -> str:
    """An input error (InputError.as_json()) as lines for a person: one per problem, names escaped."""
    source = printable(error.get("source", ""))
    lines = []
    for problem in error.get("problems", ()) or ({"field": "", "message": error.get("error", "")},):
        field, message = printable(problem.get("field", "")), printable(problem.get("message", ""))
        lines.append(f"{source}: {field}: {message}" if field else f"{source}: {message}")
    return "\n".join(lines)


def as_text(data: dict) -> str:
    """A decision (in its JSON form) as a summary for a person."""
    head = data["decision"].upper()
    if data["pend_reason"]:
        head += f" ({data['pend_reason'].replace('_', ' ')})"
    lines = [
        f"{printable(data['case_id'])}: {head}",
        f"  {data['review_type']} review{_course(data)}; source {printable(data['source'])}",
    ]
    if data.get("policy_version"):
        version = data["policy_version"]
        lines.append(f"  policy version {version['name']}: revised {version['revised']}, in force from {version['effective']}")
    if data["failed"]:
        lines.append("  Failed:")
        for entry in data["failed"]:
            lines += _criterion(entry)
    if data["missing"]:
        lines.append("  Missing documentation:")
        for entry in data["missing"]:
            lines += _criterion(entry)
            lines.append(f"        needed: {entry['needed']}")
    if data["authorized"]:
        lines.append(f"  Authorized: {_authorized(data['authorized'])}")
    if data["advisories"]:
        lines.append("  Advisories:")
        lines += [f"    - {text}" for text in data["advisories"]]
    if data.get("corrections"):
        lines += _corrections(data["corrections"])
    return "\n".join(lines)


def _authorized(auth: dict) -> str:
    """A course in words when the grant is one (mg a day on days); any other grant field by field."""
    codes = "; ".join(", ".join(f"{c['code']} x {c['units']} units" for c in v) for v in auth.values() if isinstance(v, list))
    scalars = {k: v for k, v in auth.items() if not isinstance(v, list)}
    if scalars.keys() == {"mg", "mg_per_day", "days"}:
        text = f"{auth['mg']} mg ({auth['mg_per_day']} mg/day on {auth['days']} consecutive days)"
    else:
        text = ", ".join(f"{k} {v}" for k, v in scalars.items())
    return f"{text}; {codes}" if codes else text


def _course(data: dict) -> str:
    return f", course {data['course']}" if data.get("course") is not None else ""


def _corrections(sets: list[list[dict]]) -> list[str]:
    """Numbers separate alternatives and "+" joins changes needed together, so a
    reviewer reads each set as one thing the prescriber could do."""
    lines = ["  What would change the decision (fewest changes; any one of these):" if len(sets) > 1
             else "  What would change the decision (fewest changes):"]
    for number, changes in enumerate(sets, 1):
        for position, change in enumerate(changes):
            lead = f"{number}." if position == 0 else "+"
            mark = "actionable" if change["actionable"] else "not actionable"
            lines.append(f"    {lead:>3} {change['id']:<8} {change['change']}  [{mark}]")
    return lines


def _criterion(entry: dict) -> list[str]:
    status = STATUS_WORDS.get(entry.get("status", "undocumented"), entry.get("status", ""))
    lines = [f"    {entry['id']}  {entry['title']}: {status}  [{entry['section']}]"]
    for reason in entry["reasons"]:
        depth = reason["id"].count(".")
        indent = "      " + "  " * depth
        if reason["id"] != entry["id"]:
            lines.append(f"{indent}{reason['id']}  {reason['title']}: {STATUS_WORDS.get(reason['status'], reason['status'])}")
        lines += [f"{indent}  because {fact}" for fact in reason["because"]]
    return lines


def outcome_label(outcome: dict) -> str:
    """A decision and its pend reason as diff and the reports word them: "pend (information)"."""
    reason = outcome.get("pend_reason")
    return outcome["decision"] + (f" ({reason})" if reason else "")
