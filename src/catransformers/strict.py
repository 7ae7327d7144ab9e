"""Validation shared by every settings model: the one boundary where user numbers and sections are checked.

- `StrictModel`: a frozen pydantic base that forbids unknown keys, NaN and infinities, and booleans where a number
  is expected (pydantic would otherwise read ``trials = true`` as 1).
- `check_finite_tree`: rejects non-finite and subnormal floats anywhere in a raw config dict before any model sees
  it, naming the dotted key (a subnormal such as 1e-320 is no physical quantity and overflows a division).
- `one_line`: every problem of a pydantic ValidationError in one line, dotted locations, without pydantic's
  "Value error, " prefix.
"""

from __future__ import annotations

import math
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from catransformers.errors import UserError

M = typing.TypeVar("M", bound=BaseModel)


def _numeric(annotation: Any) -> bool:
    """True if the annotation is int/float, optionally inside Optional/Union or list."""
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple):
        return any(_numeric(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


class StrictModel(BaseModel):
    """Frozen, unknown keys forbidden, finite numbers only, no booleans or strings for numbers.

    A subclass that takes numbers as text on purpose (e.g. a cap given as 'none') lists those fields in
    `text_number_fields` and parses them itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    text_number_fields: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _typed_numbers(cls, value: Any, info: Any) -> Any:
        field = cls.model_fields.get(info.field_name)
        if field is None or not _numeric(field.annotation) or info.field_name in cls.text_number_fields:
            return value
        allowed = typing.get_args(field.annotation)
        items = value if isinstance(value, list | tuple) else [value]
        if bool not in allowed and any(isinstance(v, bool) for v in items):
            raise ValueError("must be a number, not true/false")
        if str not in allowed and any(isinstance(v, str) for v in items):
            raise ValueError("must be a number, not text (write 3, not \"3\")")
        return value


def check_finite_tree(raw: Any, where: str = "") -> None:
    """Raise UserError for the first NaN, infinite or subnormal float in a nested dict/list (dotted key named)."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            check_finite_tree(value, f"{where}.{key}" if where else str(key))
    elif isinstance(raw, list | tuple):
        for i, value in enumerate(raw):
            check_finite_tree(value, f"{where}[{i}]")
    elif isinstance(raw, float):
        name = where or "value"
        if not math.isfinite(raw):
            raise UserError(f"{name} = {raw}: numbers must be finite")
        if raw != 0.0 and abs(raw) < sys.float_info.min:
            raise UserError(f"{name} = {raw!r}: too close to zero to be a physical value")


def one_line(err: ValidationError, source: str = "", name_of: Callable[[str], str] | None = None) -> str:
    """All problems of `err` joined in one line: 'source: a.b: msg; c: msg' (`name_of` relabels a dotted key)."""
    parts = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "value"
        loc = name_of(loc) if name_of else loc
        msg = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if item.get("type") in ("extra_forbidden", "missing"):
            parts.append(f"{'unknown' if item['type'] == 'extra_forbidden' else 'missing'} key '{loc}'")
            continue
        value = item.get("input")
        short = isinstance(value, str | int | float | bool) and len(repr(value)) < 40
        shown = f" (got {value!r})" if short and str(value) not in msg else ""
        parts.append(f"{loc}: {msg}{shown}")
    prefix = f"{source}: " if source else "invalid "
    return prefix + "; ".join(parts)


def parse_toml_model(text: str, model: type[M], source: str) -> M:
    """A TOML document validated as `model`; bad TOML or a bad field is a one-line UserError naming `source`."""
    import tomllib

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{source}: not valid TOML: {err}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise UserError(one_line(err, source)) from None


def load_toml_model(model: type[M], package: str, name: str, path: str | None, what: str) -> M:
    """A package's shipped TOML (`path` None) or a user's file of the same schema, validated as `model`."""
    from importlib import resources
    from pathlib import Path

    if path is None:
        return parse_toml_model(resources.files(package).joinpath(name).read_text(), model, name)
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} {p} not found")
    return parse_toml_model(p.read_text(), model, str(p))
