r"""Case text shown literally in Markdown and plain text: never as markup, HTML or layout.

A line break inside a case field would let the field start a line of its own, where
Markdown reads ``# ...`` as a heading and a reader takes ``**Decision: APPROVED**`` for
the letter's own words; so line breaks and other control characters are shown as
escapes (``\n``, ``\u0007``), on the line where the field stands.

>>> print(markdown_escape("a_b *c*"))
a\_b \*c\*
>>> print(markdown_escape("Ann\n# We approve"))
Ann\n# We approve
>>> print(plain_escape("Ann\r\n**Decision: APPROVED**"))
Ann\r\n**Decision: APPROVED**
"""

from __future__ import annotations

import unicodedata

__all__ = ["control_escape", "markdown_escape", "plain_escape"]

# Only what is markup inside a line: with line breaks escaped, case text never starts a line.
_MARKDOWN_SPECIAL = set("\\`*_[]<>|~&")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _breaks(char: str) -> bool:
    """A control character (Cc: line feed, carriage return, NEL, ...) or a line or
    paragraph separator (Zl, Zp): what can end a line or move the cursor."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def control_escape(text: str) -> str:
    """Line breaks and control characters as visible escapes, everything else as it was."""
    return "".join(_NAMED.get(ch) or f"\\u{ord(ch):04x}" if _breaks(ch) else ch for ch in text)


def markdown_escape(text: str) -> str:
    """Case text (ids, infections, conditions, names) shown literally, never as markdown or HTML."""
    return control_escape("".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text)))


def plain_escape(text: str) -> str:
    """Case text in a plain-text letter: its line breaks and control characters escaped."""
    return control_escape(str(text))
