"""The table of distributions of the uncertain figures: schema, validation and loading.

``distributions.toml`` (package data) holds one entry per dotted setting name; each entry has a distribution,
its parameters, how a draw is applied (``absolute`` or ``factor``), why that distribution, and its sources.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator

from catransformers.strict import StrictModel, load_toml_model, parse_toml_model

KEY_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
_PARAMS = {
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "lognormal": ("p05", "p95"),
}


class Distribution(StrictModel):
    """One uncertain figure: its distribution and the sources that bound it."""

    kind: Literal["absolute", "factor"]
    unit: str = Field(min_length=1)
    distribution: Literal["uniform", "loguniform", "triangular", "lognormal"]
    low: float | None = Field(None)
    mode: float | None = Field(None)
    high: float | None = Field(None)
    p05: float | None = Field(None, gt=0)
    p95: float | None = Field(None, gt=0)
    nominal: float = Field(description="the value the deterministic model uses")
    new_setting: bool = Field(False, description="the config has no such setting yet")
    why: str = Field(min_length=8, description="why this distribution")
    sources: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        need = _PARAMS[self.distribution]
        given = {p for p in ("low", "mode", "high", "p05", "p95") if getattr(self, p) is not None}
        if given != set(need):
            raise ValueError(f"{self.distribution} takes exactly {', '.join(need)}; got {', '.join(sorted(given))}")
        if any(len(s.strip()) < 8 for s in self.sources):
            raise ValueError("every source must say what it is")
        if self.distribution == "lognormal":
            if not self.p05 < self.p95:  # type: ignore[operator]
                raise ValueError("need p05 < p95")
        else:
            lo, hi = self.low, self.high
            if not lo < hi:  # type: ignore[operator]
                raise ValueError("need low < high")
            if self.mode is not None and not lo <= self.mode <= hi:  # type: ignore[operator]
                raise ValueError("need low <= mode <= high")
            if self.distribution == "loguniform" and lo <= 0:  # type: ignore[operator]
                raise ValueError("loguniform needs low > 0")
        if self.kind == "factor":
            if self.nominal != 1.0:
                raise ValueError("a factor's nominal is 1")
            if self.distribution != "lognormal" and self.low <= 0:  # type: ignore[operator]
                raise ValueError("a factor must stay > 0")
        return self

    def median(self) -> float:
        """The median of the distribution (the geometric mean of P5 and P95 for a lognormal)."""
        if self.distribution == "lognormal":
            return math.sqrt(self.p05 * self.p95)  # type: ignore[operator]
        if self.distribution == "loguniform":
            return math.sqrt(self.low * self.high)  # type: ignore[operator]
        if self.distribution == "uniform":
            return (self.low + self.high) / 2  # type: ignore[operator]
        lo, c, hi = self.low, self.mode, self.high
        if c - lo >= (hi - lo) / 2:  # type: ignore[operator]
            return lo + math.sqrt((hi - lo) * (c - lo) / 2)  # type: ignore[operator]
        return hi - math.sqrt((hi - lo) * (hi - c) / 2)  # type: ignore[operator]


class DistributionTable(StrictModel):
    """All the uncertain figures, by dotted setting name."""

    figure: dict[str, Distribution] = Field(min_length=1)

    @model_validator(mode="after")
    def _keys(self) -> DistributionTable:
        for key in self.figure:
            if not re.match(KEY_PATTERN, key):
                raise ValueError(f"key '{key}' is not a dotted setting name like 'tech.mac_energy_pj'")
            if key.startswith("dram.") and self.figure[key].kind != "factor":
                raise ValueError(f"'{key}': memory figures differ per technology, so their draws must be factors")
        return self

    def keys(self) -> list[str]:
        return list(self.figure)


def parse_table(text: str, source: str = "distributions.toml") -> DistributionTable:
    """Validate a distribution table given as TOML text; bad tables raise a one-line UserError."""
    return parse_toml_model(text, DistributionTable, source)


@lru_cache(maxsize=4)
def load_table(path: str | None = None) -> DistributionTable:
    """The shipped table (``path=None``) or a user's TOML file in the same schema."""
    return load_toml_model(DistributionTable, "catransformers.uncertainty", "distributions.toml", path,
                           "distribution table")
