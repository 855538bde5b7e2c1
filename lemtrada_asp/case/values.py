"""The values of case format v1, checked one at a time: drug names, dates, state codes,
numbers, free text, diagnosis codes and enumerated values.

Each check takes a value as parsed and returns it as the case holds it, or raises
ValueError with the message a case's error shows. Both validators use them: the
pydantic model (model.py, which words every error) and the fast path (fast.py),
so there is one definition of what each value may be. Nothing here imports pydantic.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any

from ..engine.limits import show

__all__ = [
    "CODE_MAX", "DMT_ALIASES", "ID_PATTERN", "OTHER_NAMES", "PLACEHOLDERS", "TEXT_MAX", "US_STATES",
    "code", "documented_item", "drug", "enum_key", "iso_date", "normal_code", "placeholder_form",
    "plain_text", "positive_number", "says_none", "state",
]

# Known DMTs: canonical name -> accepted aliases (case-insensitive), from the case format.
DMT_ALIASES: dict[str, tuple[str, ...]] = {
    "natalizumab": ("tysabri", "tyruko"),
    "dimethyl_fumarate": ("tecfidera",),
    "fingolimod": ("gilenya",),
    "teriflunomide": ("aubagio",),
    "ocrelizumab": ("ocrevus",),
    "ofatumumab": ("kesimpta",),
    "ublituximab": ("briumvi",),
    "cladribine": ("mavenclad",),
    "siponimod": ("mayzent",),
    "ozanimod": ("zeposia",),
    "ponesimod": ("ponvory",),
    "diroximel_fumarate": ("vumerity",),
    "monomethyl_fumarate": ("bafiertam",),
    "interferon_beta": ("avonex", "rebif", "betaseron", "plegridy"),
    "glatiramer_acetate": ("copaxone", "glatopa"),
    "mitoxantrone": (),
}
# Names accepted beside the brand names: a biosimilar's nonproprietary name with its
# four-letter suffix (natalizumab-sztn is Tyruko, the case format's alias of natalizumab).
OTHER_NAMES: dict[str, str] = {"natalizumab_sztn": "natalizumab"}
_DRUG_LOOKUP = {name: name for name in DMT_ALIASES} | OTHER_NAMES | {
    alias: name for name, aliases in DMT_ALIASES.items() for alias in aliases
}
_LEMTRADA = {"alemtuzumab", "lemtrada"}

# Two-letter codes of US states, DC and territories (USPS).
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
    "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC "
    "PR GU VI AS MP".split()
)

TEXT_MAX = 200  # the case format: free text of 1-200 characters
CODE_MAX = 20  # a diagnosis code: 1-20 characters

def drug(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a drug name (a string)")
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    if key in _LEMTRADA:
        raise ValueError("alemtuzumab (Lemtrada) is the drug requested; it is never a prior or concurrent DMT")
    if key not in _DRUG_LOOKUP:
        raise ValueError(
            f"unknown drug {show(value)}; expected one of {', '.join(DMT_ALIASES)} (brand names accepted)"
        )
    return _DRUG_LOOKUP[key]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(value: Any) -> Any:
    # YAML gives date objects; JSON gives strings. Pydantic alone would also take
    # an integer as a Unix timestamp, which in a case file is always a mistake.
    if isinstance(value, datetime):
        raise ValueError(f"expected a date as YYYY-MM-DD without a time of day, got {value.isoformat(' ')}")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected a real calendar date as YYYY-MM-DD, got {value!r}") from None
    raise ValueError(f"expected a date as YYYY-MM-DD, got {show(value)}")


def state(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a two-letter US state code, got {show(value)}")
    code = value.strip().upper()
    if code not in US_STATES:
        raise ValueError(f"expected a two-letter US state code, got {show(value)}")
    return code


def positive_number(value: Any) -> int | float:
    # One check instead of pydantic's int|float union, which reports each branch.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    if value <= 0:
        raise ValueError(f"expected a number greater than 0, got {value!r}")
    return value


def plain_text(value: str) -> str:
    # clingo strings end at a NUL byte: "multiple_sclerosis\0x" would reach the
    # solver as "multiple_sclerosis". So NUL is refused, not passed on.
    if "\x00" in value:
        raise ValueError("text must not contain a NUL character")
    if not value.strip():
        raise ValueError("expected text, got only white space")
    return value


# Entries that say there is nothing to document, normalised (case format, "Entries that
# say none"). A dash of any kind and an empty entry normalise to "" and are caught too.
PLACEHOLDERS = frozenset({
    "none", "none known", "no", "nil", "na", "n a", "not applicable", "negative", "no infection",
    "no infections", "no active infection", "no active infections", "denies", "unknown",
})


def _without_format(value: str) -> str:
    """The text without Unicode format characters (category Cf, e.g. a zero-width space)."""
    return "".join(c for c in value if unicodedata.category(c) != "Cf")


def placeholder_form(value: str) -> str:
    """An entry as the case format compares it with PLACEHOLDERS: NFKC, format characters
    removed, case-folded, punctuation and brackets (Unicode P*) made spaces, runs of spaces
    one, trimmed. So "None.", "(none)", "N/A", "N.A." and "—" are "none", "none", "n a",
    "n a" and "".

    >>> placeholder_form(" (None) ")
    'none'
    """
    text = _without_format(unicodedata.normalize("NFKC", value)).casefold()
    text = "".join(" " if _punctuation(c) else c for c in text)
    return " ".join(text.split())


def _punctuation(char: str) -> bool:
    """Punctuation and brackets (Unicode P*), and any dash-like sign (a minus sign, a
    box-drawing line), so that a dash of any kind is an entry that says none."""
    if unicodedata.category(char).startswith("P"):
        return True
    name = unicodedata.name(char, "")
    return any(word in name for word in ("DASH", "HYPHEN", "MINUS", "HORIZONTAL LINE", "HORIZONTAL BAR"))


def says_none(value: str) -> bool:
    """Whether a documented entry says there is nothing to document (or nothing at all)."""
    form = placeholder_form(value)
    return not form or form in PLACEHOLDERS


def documented_item(value: str) -> str:
    # "None." in a list of documented infections would be read as an infection named
    # "None.": the case format makes it an input error, so the list is left empty instead.
    if says_none(value):
        raise ValueError(
            f"{show(value)} says there is none (a placeholder, not a documented item); "
            "leave the list empty ([]) when there is none"
        )
    return value


def normal_code(code: str) -> str:
    """A diagnosis code as criteria.md "Codes" normalises it: NFKC, format characters
    (Cf, e.g. a zero-width space) removed, trimmed, upper-cased, and the undotted claim
    form given its dot after the third character (G35A is G35.A).

    >>> normal_code(" g35a\u200b")
    'G35.A'
    """
    code = _without_format(unicodedata.normalize("NFKC", code)).strip().upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    return code


_CODE_CHARACTERS = re.compile(r"[A-Z0-9.]+")


def code(value: str) -> str:
    # A look-alike letter from another script (Cyrillic А in G35.А) would make a code that
    # fails B1 although the prescriber meant G35.A: criteria.md "Codes" makes it an input error.
    if says_none(value):  # "None" would be code NON.E, failing B1: a denial on an entry that says none
        raise ValueError(
            f"{show(value)} says there is none (a placeholder, not a code); leave the list empty ([]) when there is none"
        )
    normal = normal_code(value)
    if not _CODE_CHARACTERS.fullmatch(normal):
        odd = sorted({c for c in normal if not _CODE_CHARACTERS.fullmatch(c)})
        named = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}" for c in odd[:3])
        raise ValueError(
            f"{show(value)} is not an ICD-10 code: after normalising it still holds {named}; "
            "a code is written with the letters A-Z, the digits 0-9 and '.'"
        )
    return value


def enum_key(value: Any) -> Any:
    # Every enumerated value is case-insensitive, as drug names are ("Neurology", "FAILED").
    if isinstance(value, str):
        return value.strip().lower().replace(" ", "_").replace("-", "_")
    return value


ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,200}")  # a case id (the model's pattern, as a whole match)
