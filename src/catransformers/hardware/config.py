"""The accelerator template (DESIGN §3): one validated config, a space of them, and `--hw` parsing.

A config is `clusters` tensor cores (each a `depth` x `width` systolic array, a `width`-lane vector core and an
`l2_kb` local SRAM fed by the global buffer at `l2_bw` words/cycle) sharing a `glb_mb` global buffer and DRAM.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catransformers.carbon.tables import check_dram, check_node
from catransformers.errors import UserError
from catransformers.hardware.tech import DEFAULT_DRAM_BW_GBPS

TEMPLATE_KEYS = ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb")
FIXED_KEYS = ("freq_mhz", "precision_bits", "node_nm", "dram_type", "dram_gb", "dram_bw_gbps")
HW_KEYS = TEMPLATE_KEYS + FIXED_KEYS
PRECISIONS = (4, 8, 16)

# The paper's search values (DESIGN §3): 3 x 4 x 6 x 5 x 3 x 3 = 3,240 points.
PAPER_GRID: dict[str, list[Any]] = {
    "clusters": [1, 2, 4],
    "width": [32, 64, 128, 256],
    "depth": [2, 4, 8, 16, 32, 64],
    "l2_kb": [64, 128, 256, 512, 1024],
    "l2_bw": [32, 64, 128],
    "glb_mb": [2, 4, 8],
}
# Fixed parameters: 625 MHz (the paper's code; its text says 500), int8, 22 nm, 1 GB LPDDR3-20nm (DESIGN §3).
FIXED_DEFAULTS: dict[str, Any] = {
    "freq_mhz": 625.0, "precision_bits": 8, "node_nm": 22, "dram_type": "lpddr3_20nm", "dram_gb": 1.0,
    "dram_bw_gbps": DEFAULT_DRAM_BW_GBPS,
}
_MEANING = {
    "clusters": "number of tensor-core clusters", "width": "systolic array columns (and vector lanes)",
    "depth": "systolic array rows", "l2_kb": "per-cluster L2 SRAM in KB", "l2_bw": "GLB->L2 words/cycle",
    "glb_mb": "global buffer in MB", "freq_mhz": "clock in MHz", "precision_bits": "operand bits",
    "node_nm": "technology node in nm", "dram_type": "DRAM technology", "dram_gb": "DRAM capacity in GB",
    "dram_bw_gbps": "DRAM bandwidth in GB/s",
}


class HardwareConfig(BaseModel):
    """One accelerator of the template; sizes must be positive, node and DRAM type from the carbon tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clusters: int = Field(gt=0)
    width: int = Field(gt=0)
    depth: int = Field(gt=0)
    l2_kb: float = Field(gt=0)
    l2_bw: float = Field(gt=0)
    glb_mb: float = Field(gt=0)
    freq_mhz: float = Field(FIXED_DEFAULTS["freq_mhz"], gt=0)
    precision_bits: int = Field(FIXED_DEFAULTS["precision_bits"])
    node_nm: int = Field(FIXED_DEFAULTS["node_nm"])
    dram_type: str = FIXED_DEFAULTS["dram_type"]
    dram_gb: float = Field(FIXED_DEFAULTS["dram_gb"], gt=0)
    dram_bw_gbps: float = Field(FIXED_DEFAULTS["dram_bw_gbps"], gt=0)

    @field_validator("precision_bits")
    @classmethod
    def _precision(cls, v: int) -> int:
        if v not in PRECISIONS:
            raise ValueError(f"precision_bits must be one of {', '.join(map(str, PRECISIONS))}")
        return v

    @field_validator("node_nm")
    @classmethod
    def _node(cls, v: int) -> int:
        try:
            return check_node(v)
        except UserError as err:
            raise ValueError(str(err)) from None

    @field_validator("dram_type")
    @classmethod
    def _dram(cls, v: str) -> str:
        try:
            return check_dram(v)
        except UserError as err:
            raise ValueError(str(err)) from None

    @property
    def tops(self) -> float:
        """Peak int ops/s in tera: clusters x width x depth x 2 x f."""
        return self.clusters * self.width * self.depth * 2 * self.freq_mhz * 1e6 / 1e12

    def columns(self) -> dict[str, np.ndarray]:
        """The config as one-row columnar arrays (the layout `HardwareSpace.grid()` returns)."""
        return {k: np.array([getattr(self, k)]) for k in HW_KEYS}

    def label(self) -> str:
        return ",".join(f"{k}={_fmt(getattr(self, k))}" for k in TEMPLATE_KEYS)


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class HardwareSpace(BaseModel):
    """Lists of values per parameter; the space is their Cartesian product (default: the paper's 3,240 points)."""

    model_config = ConfigDict(extra="forbid")

    clusters: list[int] = Field(default_factory=lambda: list(PAPER_GRID["clusters"]))
    width: list[int] = Field(default_factory=lambda: list(PAPER_GRID["width"]))
    depth: list[int] = Field(default_factory=lambda: list(PAPER_GRID["depth"]))
    l2_kb: list[float] = Field(default_factory=lambda: list(PAPER_GRID["l2_kb"]))
    l2_bw: list[float] = Field(default_factory=lambda: list(PAPER_GRID["l2_bw"]))
    glb_mb: list[float] = Field(default_factory=lambda: list(PAPER_GRID["glb_mb"]))
    freq_mhz: list[float] = Field(default_factory=lambda: [FIXED_DEFAULTS["freq_mhz"]])
    precision_bits: list[int] = Field(default_factory=lambda: [FIXED_DEFAULTS["precision_bits"]])
    node_nm: list[int] = Field(default_factory=lambda: [FIXED_DEFAULTS["node_nm"]])
    dram_type: list[str] = Field(default_factory=lambda: [FIXED_DEFAULTS["dram_type"]])
    dram_gb: list[float] = Field(default_factory=lambda: [FIXED_DEFAULTS["dram_gb"]])
    dram_bw_gbps: list[float] = Field(default_factory=lambda: [FIXED_DEFAULTS["dram_bw_gbps"]])

    def model_post_init(self, _ctx: Any) -> None:
        for key in HW_KEYS:
            values = getattr(self, key)
            if not values:
                raise UserError(f"hardware space: '{key}' has no values; give at least one ({_MEANING[key]})")
        # Validate every distinct value once through HardwareConfig (positivity, node, DRAM type, precision).
        base = {k: getattr(self, k)[0] for k in HW_KEYS}
        for key in HW_KEYS:
            for v in getattr(self, key):
                _validated(base | {key: v}, where=key)

    def __len__(self) -> int:
        n = 1
        for key in HW_KEYS:
            n *= len(getattr(self, key))
        return n

    def grid(self) -> dict[str, np.ndarray]:
        """Columnar arrays, one entry per point of the product (order: clusters slowest ... dram_bw fastest)."""
        lists = [getattr(self, k) for k in HW_KEYS]
        idx = np.indices([len(v) for v in lists]).reshape(len(lists), -1)
        out: dict[str, np.ndarray] = {}
        for key, values, ix in zip(HW_KEYS, lists, idx, strict=True):
            arr = np.asarray([check_dram(v) for v in values] if key == "dram_type" else values)
            out[key] = arr[ix]
        return out

    def configs(self) -> list[HardwareConfig]:
        """Every point as a HardwareConfig (slow for big spaces; prefer grid())."""
        lists = [getattr(self, k) for k in HW_KEYS]
        return [HardwareConfig(**dict(zip(HW_KEYS, vals, strict=True))) for vals in itertools.product(*lists)]


def _validated(values: dict[str, Any], where: str) -> HardwareConfig:
    try:
        return HardwareConfig(**values)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or where
        msg = first["msg"].removeprefix("Value error, ")
        raise UserError(f"hardware '{key}={values.get(key)}': {msg} ({_MEANING.get(key, key)})") from None


def _number(key: str, raw: str) -> int | float | str:
    if key == "dram_type":
        return raw
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"--hw {key}={raw}: not a number ({_MEANING[key]})") from None
    if key in ("clusters", "width", "depth", "precision_bits", "node_nm"):
        if value != int(value):
            raise UserError(f"--hw {key}={raw}: must be a whole number ({_MEANING[key]})")
        return int(value)
    return value


def parse_hw(text: str, defaults: dict[str, Any] | None = None) -> HardwareConfig:
    """Parse ``clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2`` (fixed keys optional).

    All six template keys are required unless `defaults` supplies them. Raises UserError naming the key.
    """
    values: dict[str, Any] = dict(defaults or {})
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not raw:
            raise UserError(f"--hw: '{item}' is not key=value (e.g. clusters=1,width=256,depth=8)")
        if key not in HW_KEYS:
            raise UserError(f"--hw: unknown key '{key}'; allowed: {', '.join(HW_KEYS)}")
        values[key] = _number(key, raw)
    missing = [k for k in TEMPLATE_KEYS if k not in values]
    if missing:
        raise UserError(
            f"--hw: missing {', '.join(missing)}; give all of {', '.join(TEMPLATE_KEYS)} "
            "(e.g. clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2)"
        )
    for key, value in values.items():
        if key != "dram_type" and isinstance(value, int | float) and value <= 0:
            raise UserError(f"--hw {key}={_fmt(value)}: must be positive ({_MEANING[key]})")
    return _validated(values, where="hw")


def parse_list(key: str, text: str) -> list[Any]:
    """Parse a comma list for one space parameter (``--width 32,64``)."""
    if key not in HW_KEYS:
        raise UserError(f"unknown hardware parameter '{key}'; allowed: {', '.join(HW_KEYS)}")
    values = [_number(key, v.strip()) for v in text.split(",") if v.strip()]
    if not values:
        raise UserError(f"--{key.replace('_', '-')}: give at least one value")
    for v in values:
        if key != "dram_type" and v <= 0:
            raise UserError(f"--{key.replace('_', '-')} {v}: must be positive ({_MEANING[key]})")
    return values
