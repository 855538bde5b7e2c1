"""Reading a notice data file: YAML in, a pydantic model out, every problem as
``file: field: what was expected`` (NoticeDataError), never a traceback.

Shared by lob.py, language.py and settings.py, so all three report a broken file the
same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..engine.yamlcase import yaml_error_place
from .errors import NoticeDataError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a YAML file; anything else is a NoticeDataError naming the file."""
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NoticeDataError(source, [f"cannot read: {exc.strerror or exc}"]) from None
    except yaml.MarkedYAMLError as exc:
        raise NoticeDataError(source, [f"not valid YAML{yaml_error_place(exc)}"]) from None
    except yaml.YAMLError as exc:
        raise NoticeDataError(source, [f"not valid YAML ({exc})"]) from None
    if not isinstance(raw, dict):
        raise NoticeDataError(source, [f"expected a mapping of fields, got {type(raw).__name__}"])
    return raw


def validate(model: type[M], data: dict[str, Any], source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise NoticeDataError(source, [problem(e) for e in exc.errors()]) from None


def problem(error: Any) -> str:
    """One pydantic error as 'field.path: what was expected, got what'."""
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field (a typo, or a field this model does not have)"
    elif error["type"] == "missing":
        message = "required field missing"
    elif error["type"] == "value_error":  # our own validators: their text, without pydantic's prefix
        message = str(error["ctx"]["error"])
    elif error["type"] == "literal_error":
        message = f"expected {error['ctx']['expected']}, got {error['input']!r}"
    elif "input" in error and not isinstance(error["input"], (dict, list)):
        message = f"{message}, got {error['input']!r}"
    return f"{path}: {message}" if path else message


def package_file(*parts: str) -> Path:
    from importlib import resources

    return Path(str(resources.files("lemtrada_asp").joinpath(*parts)))


