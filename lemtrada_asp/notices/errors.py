"""The one error the notice data raises: it names the file and the field.

A wrong deadline in a notice misleads a member about a legal right, so a data file
that does not say exactly what the model expects stops the letter, with a message a
compliance analyst can act on (file, field, what was expected), never a traceback.
"""

from __future__ import annotations

from ..engine.errors import LemtradaError


class NoticeDataError(LemtradaError):
    """A line-of-business, language or plan-settings file is missing or malformed,
    or a case names a line of business no file describes.

    Exit status 3, like a broken knowledge base: the data the tool ships or the plan
    configured is wrong, not the case.
    """

    exit_status = 3

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))
