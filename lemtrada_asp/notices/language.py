"""Language access and nondiscrimination, from language.yaml: the taglines and the notice
of nondiscrimination every letter carries at its end.

Why data: which languages a plan must carry depends on the States it serves (45 CFR
92.11 counts the 15 most common languages of people with limited English proficiency
per State), and the texts are translations a plan's language vendor reviews; neither
belongs in a template. The plan's own numbers ({phone}, {tty}, {coordinator}) are
filled in here, by plain substitution, so a brace in a phone setting cannot become
template code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._data import package_file, read_yaml, validate
from .errors import NoticeDataError
from .lob import Source

PLACEHOLDERS = ("{phone}", "{tty}", "{plan_name}", "{coordinator}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Tagline(_Model):
    code: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")  # a BCP 47 tag: the PDF's and HTML's lang
    name: str = Field(min_length=1)
    native: str = Field(min_length=1)
    dir: Literal["ltr", "rtl"] = "ltr"
    text: str = Field(min_length=1)

    @model_validator(mode="after")
    def _has_numbers(self) -> "Tagline":
        if "{phone}" not in self.text:
            raise ValueError("a tagline must give the number to call: {phone} is missing")
        return self

    def filled(self, phone: str, tty: str) -> "Tagline":
        return self.model_copy(update={"text": fill(self.text, phone=phone, tty=tty)})


class Nondiscrimination(_Model):
    source: Source
    heading: str = Field(min_length=1)
    paragraphs: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class LanguageData(_Model):
    source: Source
    english: str = Field(min_length=1)
    national: Annotated[list[Tagline], Field(min_length=15)]
    national_source: Source
    states: dict[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], Annotated[list[str], Field(min_length=15)]]
    nondiscrimination: Nondiscrimination

    @model_validator(mode="after")
    def _states_name_known_languages(self) -> "LanguageData":
        codes = [t.code for t in self.national]
        if len(set(codes)) != len(codes):
            raise ValueError("national lists a language code twice")
        for state, listed in self.states.items():
            unknown = [c for c in listed if c not in codes]
            if unknown:
                raise ValueError(f"states.{state}: {', '.join(unknown)} not in national (add the tagline there first)")
        return self


def language_file() -> Path:
    return package_file("notices", "language.yaml")


@lru_cache(maxsize=None)
def load(path: str | None = None) -> LanguageData:
    where = Path(path) if path else language_file()
    return validate(LanguageData, read_yaml(where), str(where))


def fill(text: str, **values: str) -> str:
    """Put the plan's settings in a text; a placeholder left unfilled is an error, so a
    letter never prints '{coordinator}' to a member."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    left = [p for p in PLACEHOLDERS if p in text]
    if left:
        raise NoticeDataError("language.yaml", [f"no value given for {', '.join(left)} in: {text[:60]}..."])
    return text


def taglines(phone: str, tty: str, state: str | None = None, path: str | None = None) -> list[Tagline]:
    """The taglines for a member in ``state`` (its own list if the plan configured one,
    else the national list), with the plan's numbers filled in."""
    data = load(path)
    by_code = {t.code: t for t in data.national}
    codes = data.states.get(state or "", [t.code for t in data.national])
    return [by_code[c].filled(phone, tty) for c in codes]


def english_tagline(phone: str, tty: str, path: str | None = None) -> str:
    return fill(load(path).english, phone=phone, tty=tty)


def nondiscrimination(plan_name: str, phone: str, tty: str, coordinator: str, path: str | None = None) -> tuple[str, list[str]]:
    """The heading and the paragraphs of the notice of nondiscrimination, filled in."""
    notice = load(path).nondiscrimination
    values = {"plan_name": plan_name, "phone": phone, "tty": tty, "coordinator": coordinator}
    return notice.heading, [fill(p, **values) for p in notice.paragraphs]


def list_source(state: str | None = None, path: str | None = None) -> str:
    """Where the language list a letter used comes from, for the reviewer's part."""
    data = load(path)
    if state and state in data.states:
        return f"the plan's list for {state} (language.yaml, states.{state})"
    return f"the national list (language.yaml, national: {data.national_source.checked})"
