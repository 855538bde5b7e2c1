"""One exception hierarchy, so the CLI can catch the base class and pick an exit status.

    LemtradaError                      anything this package raises on purpose
    ├── InputError                     a case (or case file) cannot be decided: exit 2
    │   ├── CaseValidationError        a case parsed but broke the case format
    │   └── ReadError                  a file or directory could not be read (I/O): exit 4
    ├── KnowledgeBaseError             the KB does not load, ground or behave: exit 3
    └── guard.ResourceExhausted        time or memory ran out grounding or solving: exit 3

Input errors carry where they happened (file, line, field path) because a person has
to go and fix that exact spot; knowledge-base errors carry clingo's own messages,
which already name the .lp file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class LemtradaError(Exception):
    """Base class: every error the CLI turns into a message and an exit status."""

    exit_status = 1


@dataclass
class Problem:
    """One thing wrong with an input: the field path, what is wrong, what was given."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InputError(LemtradaError):
    """A case cannot be decided because of what was submitted."""

    exit_status = 2

    def __init__(self, source: str, problems: list[Problem], case_id: str | None = None):
        self.source = source
        self.problems = problems
        self.case_id = case_id
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = [f"{self.source}: {p}" for p in self.problems]
        return "\n".join(lines)

    kind = "invalid_input"

    def as_json(self) -> dict:
        return {
            "case_id": self.case_id,
            "source": self.source,
            "error": self.kind,
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
        }


class CaseValidationError(InputError):
    """The case is well-formed JSON/YAML but breaks the case format."""


class ReadError(InputError):
    """A case file or directory could not be read: permissions, a failing disk (I/O, exit 4).

    In a batch it takes the place of the cases it held, like any input error; only the
    exit status differs, because the fix is on the machine, not in the case.
    """

    exit_status = 4
    kind = "io_error"


IO_EXIT_STATUS = ReadError.exit_status  # reading input or writing output failed


class Unreadable(ValueError):
    """A case's text does not parse; ``field`` says where when the parser can tell.

    Raised by the parsers (JSON in loading.py, YAML in yamlcase.py) and turned into an
    InputError naming the source by the reader; here so neither parser imports the other.
    """

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass
class KnowledgeBaseError(LemtradaError):
    """The knowledge base failed to load, to ground, or produced an unsound answer."""

    message: str
    details: list[str] = field(default_factory=list)

    exit_status = 3

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join([self.message, *self.details])
