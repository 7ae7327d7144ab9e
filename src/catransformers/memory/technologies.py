"""DRAM technologies as data: bandwidth, access energy, embodied carbon and the parts one can buy.

The figures live in ``technologies.toml`` (package data), each with its source; this module validates that
table (unknown keys rejected, every number finite and in range, every figure sourced) and answers the
questions the cost model and the search ask of a memory: how fast (``bandwidth_gbps``), how costly per bit
moved (``pj_per_bit``) and per GB made (``g_per_gb``), which capacities are sold (``sold_capacities``) and
which part holds a model's resident bytes (``smallest_part_gb``, ``memory_candidates``).

A technology (e.g. ``lpddr3_20nm``, ``lpddr5x``, ``hbm3``) names an interface standard (rate, channel width,
energy, capacities) and its own embodied carbon; ACT's DRAM names are technologies, and plain family names
(``lpddr3``, ``ddr4``) are aliases of the ACT entry of that family.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from catransformers.errors import UserError
from catransformers.strict import StrictModel, load_toml_model, parse_toml_model

if TYPE_CHECKING:  # pandas loads inside memory_candidates: importing the hardware template stays light
    import pandas as pd

BYTES_PER_GB = 1024.0**3  # DRAM parts are sold in binary GB (a "1 GB" part holds 8 Gib), as the cost model's check
NO_MEMORY = "none"  # the memory name of an on-chip-only design (weights in the global buffer, no DRAM)

Basis = Literal["cited", "derived", "assumption"]
# Plausibility bounds of the table (range checks, not data): DRAM channel widths of the JEDEC standards, a data
# rate above any DRAM standard's (LPDDR5X 8533 MT/s, HBM3 6.4 Gb/s), and 2x the highest cited access energy
# (70 pJ/bit, DDR3 in Malladi et al. ISCA 2012) and embodied figure (600 g/GB, ACT ddr3_50nm).
CHANNEL_BITS = (8, 16, 32, 64, 128, 256, 512, 1024)
MAX_RATE_MTS = 20000.0
MAX_PJ_PER_BIT = 140.0
MAX_G_PER_GB = 1200.0


class Figure(StrictModel):
    """One number and where it comes from."""

    value: float = Field(gt=0)
    basis: Basis
    source: str = Field(min_length=8)


class RangedFigure(StrictModel):
    """A central value with a cited or stated range (low <= central <= high)."""

    central: float = Field(gt=0)
    low: float = Field(gt=0)
    high: float = Field(gt=0)
    basis: Basis
    source: str = Field(min_length=8)

    @model_validator(mode="after")
    def _ordered(self) -> RangedFigure:
        if not self.low <= self.central <= self.high:
            raise ValueError(f"need low <= central <= high, got {self.low}, {self.central}, {self.high}")
        return self


class Capacities(StrictModel):
    """The capacities parts are sold in (GB per package, module or stack), ascending."""

    values: list[float] = Field(min_length=1)
    basis: Basis
    source: str = Field(min_length=8)

    @field_validator("values")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if any(not math.isfinite(x) or x <= 0 for x in v) or any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("capacities must be finite, positive and strictly ascending")
        return v


class Interface(StrictModel):
    """A DRAM interface standard: data rate and channel width (JEDEC), access energy, parts sold."""

    name: str
    standard: str = Field(pattern=r"^JESD\d")
    speed_grades_mts: list[float] = Field(min_length=1)
    rate_mts: Figure
    channel_bits: Figure
    default_channels: Figure
    min_channel_gb: Figure
    pj_per_bit: RangedFigure
    capacities_gb: Capacities

    @model_validator(mode="after")
    def _consistent(self) -> Interface:
        if self.rate_mts.value not in self.speed_grades_mts:
            raise ValueError(f"rate {self.rate_mts.value:g} MT/s is not one of the speed grades")
        if self.min_channel_gb.value > self.capacities_gb.values[0]:
            raise ValueError("the smallest part cannot hold less than one channel's smallest die")
        for fig in (self.channel_bits, self.default_channels):
            if fig.value != int(fig.value):
                raise ValueError("channel width and channel count must be whole numbers")
        if int(self.channel_bits.value) not in CHANNEL_BITS:
            raise ValueError(f"channel width must be one of {', '.join(map(str, CHANNEL_BITS))} bits")
        if not max(self.speed_grades_mts) <= MAX_RATE_MTS:
            raise ValueError(f"data rates above {MAX_RATE_MTS:g} MT/s are no DRAM standard's")
        if not self.pj_per_bit.high <= MAX_PJ_PER_BIT:
            raise ValueError(f"access energy above {MAX_PJ_PER_BIT:g} pJ/bit is outside every cited DRAM figure")
        return self


class TechnologyEntry(StrictModel):
    """A DRAM technology: its interface and its embodied carbon per GB."""

    interface: str
    aliases: list[str] = Field(default_factory=list)
    g_per_gb: RangedFigure

    @model_validator(mode="after")
    def _plausible(self) -> TechnologyEntry:
        if not self.g_per_gb.high <= MAX_G_PER_GB:
            raise ValueError(f"embodied carbon above {MAX_G_PER_GB:g} g/GB is outside every cited DRAM figure")
        return self


class TechnologyTable(StrictModel):
    """The whole table: interfaces and the technologies that use them."""

    interface: dict[str, Interface] = Field(min_length=1)
    technology: dict[str, TechnologyEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _links(self) -> TechnologyTable:
        names = set(self.technology)
        for key, tech in self.technology.items():
            if tech.interface not in self.interface:
                raise ValueError(f"technology '{key}' names unknown interface '{tech.interface}'")
            for alias in tech.aliases:
                if alias in names:
                    raise ValueError(f"alias '{alias}' of '{key}' is already a technology or alias")
                names.add(alias)
        return self


@dataclass(frozen=True)
class MemoryTechnology:
    """One technology with its interface's figures resolved (what the cost model needs)."""

    name: str
    display: str
    standard: str
    rate_mts: float
    channel_bits: int
    default_channels: int
    min_channel_gb: float
    pj_per_bit: float
    pj_per_bit_range: tuple[float, float]
    g_per_gb: float
    g_per_gb_range: tuple[float, float]
    capacities_gb: tuple[float, ...]


# ---------------------------------------------------------------------------------------------------- loading


def parse_table(text: str, source: str = "technologies.toml") -> TechnologyTable:
    """Validate a technology table given as TOML text; bad tables raise a one-line UserError."""
    return parse_toml_model(text, TechnologyTable, source)


@lru_cache(maxsize=4)
def load_table(path: str | None = None) -> TechnologyTable:
    """The shipped table (``path=None``) or a user's TOML file in the same schema."""
    return load_toml_model(TechnologyTable, "catransformers.memory", "technologies.toml", path,
                           "memory technology table")


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def _aliases(table: TechnologyTable) -> dict[str, str]:
    out = {k: k for k in table.technology}
    for key, tech in table.technology.items():
        out.update({a: key for a in tech.aliases})
    return out


def technology_names(table: TechnologyTable | None = None) -> list[str]:
    """Canonical technology names of the table."""
    return list((table or load_table()).technology)


def resolve(name: str, table: TechnologyTable | None = None) -> str:
    """Canonical name of a technology or alias (case- and dash-insensitive); unknown names name close ones."""
    table = table or load_table()
    names = _aliases(table)
    key = _key(name)
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.5)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise UserError(f"unknown memory technology '{name}'{hint}; allowed: {', '.join(names)}")


def _build(key: str, table: TechnologyTable) -> MemoryTechnology:
    tech = table.technology[key]
    itf = table.interface[tech.interface]
    return MemoryTechnology(
        name=key, display=itf.name, standard=itf.standard, rate_mts=itf.rate_mts.value,
        channel_bits=int(itf.channel_bits.value), default_channels=int(itf.default_channels.value),
        min_channel_gb=itf.min_channel_gb.value,
        pj_per_bit=itf.pj_per_bit.central, pj_per_bit_range=(itf.pj_per_bit.low, itf.pj_per_bit.high),
        g_per_gb=tech.g_per_gb.central, g_per_gb_range=(tech.g_per_gb.low, tech.g_per_gb.high),
        capacities_gb=tuple(itf.capacities_gb.values),
    )


def get(tech: str | MemoryTechnology, table: TechnologyTable | None = None) -> MemoryTechnology:
    """The resolved figures of one technology (by name or alias)."""
    if isinstance(tech, MemoryTechnology):
        return tech
    if table is None:
        return _default(resolve(tech))
    return _build(resolve(tech, table), table)


@lru_cache(maxsize=64)
def _default(key: str) -> MemoryTechnology:
    return _build(key, load_table())


# ---------------------------------------------------------------------------------------------------- figures


def _channels(channels: int | np.ndarray | None, tech: MemoryTechnology) -> np.ndarray:
    if channels is None:
        return np.asarray(float(tech.default_channels))
    arr = np.asarray(channels, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr != np.floor(arr)):
        bad = arr[~np.isfinite(arr) | (arr <= 0) | (arr != np.floor(arr))].ravel()[0]
        raise UserError(f"DRAM channels must be a whole number >= 1, got {bad:g} (e.g. {tech.default_channels} "
                        f"for {tech.name})")
    return arr


def bandwidth_gbps(tech: str | MemoryTechnology, channels: int | np.ndarray | None = None) -> np.ndarray | float:
    """Peak bandwidth in GB/s (10^9 B/s): channels x rate (MT/s) x channel width (bits) / 8.

    ``channels=None`` uses the technology's default (a 64-bit bus for LPDDR/DDR, one stack for HBM).
    Vectorised over an array of channel counts.
    """
    t = get(tech)
    bw = _channels(channels, t) * t.rate_mts * 1e6 * t.channel_bits / 8.0 / 1e9
    return float(bw) if bw.ndim == 0 else bw


def max_channels(tech: str | MemoryTechnology, dram_gb: float | np.ndarray) -> np.ndarray | float:
    """Most channels ``dram_gb`` of parts can drive: one per smallest die's channel capacity, at least 1.

    A small part has few dies and so few channels (a 0.25 GB LPDDR4 part is one x16 channel); vectorised.
    """
    t = get(tech)
    n = np.maximum(np.floor(np.asarray(dram_gb, dtype=float) / t.min_channel_gb * (1 + 1e-12)), 1.0)
    return float(n) if n.ndim == 0 else n


def part_channels(tech: str | MemoryTechnology, dram_gb: float | np.ndarray) -> np.ndarray | float:
    """Channels of a ``dram_gb`` memory: the technology's default bus, fewer where the parts are too small."""
    t = get(tech)
    n = np.minimum(float(t.default_channels), max_channels(t, dram_gb))
    return float(n) if np.ndim(n) == 0 else n


def pj_per_bit(tech: str | MemoryTechnology) -> float:
    """Central access energy per bit moved (pJ/bit)."""
    return get(tech).pj_per_bit


def g_per_gb(tech: str | MemoryTechnology) -> float:
    """Central embodied carbon per GB (g CO2e/GB, before yield)."""
    return get(tech).g_per_gb


def sold_capacities(tech: str | MemoryTechnology) -> tuple[float, ...]:
    """Capacities (GB) one part (package, module or stack) of the technology is sold in, ascending."""
    return get(tech).capacities_gb


def check_capacity(tech: str | MemoryTechnology, dram_gb: float) -> float:
    """``dram_gb`` if it is a sold part or a whole number of the largest part; otherwise a UserError."""
    t = get(tech)
    caps = t.capacities_gb
    if any(math.isclose(dram_gb, c, rel_tol=1e-9) for c in caps):
        return float(dram_gb)
    n = dram_gb / caps[-1]
    if n > 1 and math.isclose(n, round(n), rel_tol=1e-9):
        return float(dram_gb)
    near = smallest_part_gb(t, max(dram_gb, 0.0) * BYTES_PER_GB) if math.isfinite(dram_gb) else caps[-1]
    raise UserError(f"{dram_gb:g} GB is not a sold {t.display} capacity ({t.name} parts: "
                    f"{', '.join(f'{c:g}' for c in caps)} GB, or several of {caps[-1]:g} GB); try {near:g}")


def _resident(resident_bytes: float | np.ndarray) -> np.ndarray:
    arr = np.asarray(resident_bytes, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise UserError("resident bytes must be finite and >= 0")
    return arr


def _part_index(caps: np.ndarray, need_gb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the smallest sold capacity >= need (len(caps) if none) and the capacity it stands for.

    Needs beyond the largest part take ceil(need / largest) parts of the largest size.
    """
    idx = np.searchsorted(caps, need_gb * (1 - 1e-12), side="left")
    multiple = np.maximum(np.ceil(need_gb / caps[-1] * (1 - 1e-12)), 1.0) * caps[-1]
    gb = np.where(idx < len(caps), caps[np.minimum(idx, len(caps) - 1)], multiple)
    return idx, gb


def smallest_part_gb(tech: str | MemoryTechnology, resident_bytes: float | np.ndarray) -> np.ndarray | float:
    """Smallest sold capacity (GB) that holds ``resident_bytes``; vectorised over an array of byte counts.

    Beyond the largest part: the fewest whole parts of the largest size (e.g. 2 x 8 GB for 9 GB).
    """
    caps = np.asarray(sold_capacities(tech), dtype=float)
    _, gb = _part_index(caps, _resident(resident_bytes) / BYTES_PER_GB)
    return float(gb) if gb.ndim == 0 else gb


def next_part_gb(tech: str | MemoryTechnology, part_gb: float | np.ndarray) -> np.ndarray | float:
    """The next sold capacity above ``part_gb`` (one more largest part beyond the largest)."""
    caps = np.asarray(sold_capacities(tech), dtype=float)
    part = np.asarray(part_gb, dtype=float)
    idx = np.searchsorted(caps, part * (1 + 1e-12), side="right")
    beyond = (np.floor(part / caps[-1] * (1 + 1e-12)) + 1.0) * caps[-1]
    gb = np.where(idx < len(caps), caps[np.minimum(idx, len(caps) - 1)], beyond)
    return float(gb) if gb.ndim == 0 else gb


def _tech_list(technologies: str | Iterable[str]) -> list[MemoryTechnology]:
    names = [t for t in technologies.split(",")] if isinstance(technologies, str) else list(technologies)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise UserError("no memory technology given; name at least one, e.g. 'lpddr4,lpddr5'")
    out: dict[str, MemoryTechnology] = {}
    for n in names:
        t = get(n)
        out.setdefault(t.name, t)
    return list(out.values())


# A DRAM candidate's part: the smallest sold capacity that holds the resident bytes, or the next one up.
MEMORY_PARTS = ("smallest", "next")
CANDIDATE_COLUMNS = ("design", "memory", "dram_gb", "dram_channels", "dram_bw_gbps", "dram_pj_per_bit",
                     "dram_g_per_gb", "candidate")


def memory_candidates(resident_bytes: float | Sequence[float] | np.ndarray, technologies: str | Iterable[str],
                      glb_bytes: float | Sequence[float] | np.ndarray | None = None) -> pd.DataFrame:
    """The memory candidates of each design: one row per (design, candidate).

    Per design ``i`` (position in ``resident_bytes``) and listed technology: the smallest sold part that holds
    the resident bytes (``candidate = "smallest"``) and the next one up (``"next"``), on the technology's default
    bus or as many channels as the parts have (``part_channels``); and, where ``glb_bytes`` (scalar or per
    design) is given and the bytes fit in it, an on-chip-only candidate (``memory = "none"``, ``dram_gb = 0``,
    no bandwidth, energy or carbon).
    Columns: ``CANDIDATE_COLUMNS``. Rows are ordered by design, then on-chip first, then technology order.
    """
    import pandas as pd

    need = np.atleast_1d(_resident(resident_bytes))
    if need.ndim != 1:
        raise UserError("resident bytes must be one number per design (a 1-D array)")
    n = len(need)
    design = np.arange(n)
    frames: list[pd.DataFrame] = []
    if glb_bytes is not None:
        glb = np.broadcast_to(np.asarray(glb_bytes, dtype=float), need.shape)
        if not np.all(np.isfinite(glb)) or np.any(glb < 0):
            raise UserError("global buffer bytes must be finite and >= 0")
        fits = need <= glb
        k = int(fits.sum())
        frames.append(pd.DataFrame({
            "design": design[fits], "memory": [NO_MEMORY] * k, "dram_gb": np.zeros(k),
            "dram_channels": np.zeros(k, int), "dram_bw_gbps": np.zeros(k), "dram_pj_per_bit": np.zeros(k),
            "dram_g_per_gb": np.zeros(k),
            "candidate": ["on_chip"] * k, "_order": np.zeros(k),
        }))
    for j, t in enumerate(_tech_list(technologies), start=1):
        first = np.asarray(smallest_part_gb(t, need), dtype=float).reshape(n)
        second = np.asarray(next_part_gb(t, first), dtype=float).reshape(n)
        e, g = t.pj_per_bit, t.g_per_gb
        for sub, (label, gb) in enumerate(zip(MEMORY_PARTS, (first, second), strict=True)):
            channels = np.asarray(part_channels(t, gb), dtype=float).reshape(n)
            frames.append(pd.DataFrame({
                "design": design, "memory": [t.name] * n, "dram_gb": gb,
                "dram_channels": channels.astype(int), "dram_bw_gbps": np.asarray(bandwidth_gbps(t, channels)),
                "dram_pj_per_bit": np.full(n, e), "dram_g_per_gb": np.full(n, g), "candidate": [label] * n,
                "_order": np.full(n, 2 * j + sub, dtype=float),
            }))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["design", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    return out[list(CANDIDATE_COLUMNS)]


# The LPDDR family an edge accelerator would be built with (a suggested default list for `--memory auto`).
EDGE_TECHNOLOGIES = ("lpddr3_20nm", "lpddr4", "lpddr4x", "lpddr5", "lpddr5x")
