r"""Case text shown literally in Markdown: never as markup or HTML.

>>> print(markdown_escape("a_b *c*"))
a\_b \*c\*
"""

from __future__ import annotations

__all__ = ["markdown_escape"]

# Only what is markup inside a line: our text never starts a line with case text.
_MARKDOWN_SPECIAL = set("\\`*_[]<>|~&")


def markdown_escape(text: str) -> str:
    """Case text (ids, infections, conditions) shown literally, never as markdown or HTML."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))
