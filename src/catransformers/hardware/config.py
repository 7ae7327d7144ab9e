"""The accelerator template (CATransformers, arXiv 2505.01386): one validated config, a space of them, `--hw`.

A config is `clusters` tensor cores (each a `depth` x `width` systolic array, a `width`-lane vector core and an
`l2_kb` local SRAM fed by the global buffer at `l2_bw` words/cycle) sharing a `glb_mb` global buffer and DRAM.
"""

from __future__ import annotations

import difflib
import itertools
import math
from typing import Any

import numpy as np
from pydantic import Field, ValidationError, field_validator

from catransformers.carbon.tables import check_dram, check_node
from catransformers.errors import UserError
from catransformers.hardware.tech import DEFAULT_DRAM_BW_GBPS
from catransformers.strict import StrictModel

TEMPLATE_KEYS = ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb")
FIXED_KEYS = ("freq_mhz", "precision_bits", "node_nm", "dram_type", "dram_gb", "dram_bw_gbps")
HW_KEYS = TEMPLATE_KEYS + FIXED_KEYS
INT_KEYS = ("clusters", "width", "depth", "precision_bits", "node_nm")
PRECISIONS = (4, 8, 16)

# The paper's search values (arXiv 2505.01386, hardware search space): 3 x 4 x 6 x 5 x 3 x 3 = 3,240 points.
PAPER_GRID: dict[str, list[Any]] = {
    "clusters": [1, 2, 4],
    "width": [32, 64, 128, 256],
    "depth": [2, 4, 8, 16, 32, 64],
    "l2_kb": [64, 128, 256, 512, 1024],
    "l2_bw": [32, 64, 128],
    "glb_mb": [2, 4, 8],
}
# Fixed parameters: 625 MHz (the paper's released configurations; its text says 500), int8, 22 nm, 1 GB LPDDR3-20nm
# (arXiv 2505.01386).
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


# Physical sanity ranges of the template (stated limits, far outside any edge accelerator, so that a typo such as
# width=1e20 or freq_mhz=1e-300 is refused instead of overflowing into inf latency).
MAX_CLUSTERS = 1024
MAX_ARRAY_SIDE = 4096
MAX_SRAM_KB = 1024.0**2  # 1 GB of on-chip SRAM
MAX_WORDS_PER_CYCLE = 65536.0
FREQ_RANGE_MHZ = (1.0, 10_000.0)
MAX_DRAM_GB = 65536.0
DRAM_BW_RANGE_GBPS = (0.01, 1e5)


class HardwareConfig(StrictModel):
    """One accelerator of the template; sizes must be positive, node and DRAM type from the carbon tables."""

    clusters: int = Field(gt=0, le=MAX_CLUSTERS)
    width: int = Field(gt=0, le=MAX_ARRAY_SIDE)
    depth: int = Field(gt=0, le=MAX_ARRAY_SIDE)
    l2_kb: float = Field(gt=0, le=MAX_SRAM_KB)
    l2_bw: float = Field(gt=0, le=MAX_WORDS_PER_CYCLE)
    glb_mb: float = Field(gt=0, le=MAX_SRAM_KB / 1024.0)
    freq_mhz: float = Field(FIXED_DEFAULTS["freq_mhz"], ge=FREQ_RANGE_MHZ[0], le=FREQ_RANGE_MHZ[1])
    precision_bits: int = Field(FIXED_DEFAULTS["precision_bits"])
    node_nm: int = Field(FIXED_DEFAULTS["node_nm"])
    dram_type: str = FIXED_DEFAULTS["dram_type"]
    dram_gb: float = Field(FIXED_DEFAULTS["dram_gb"], gt=0, le=MAX_DRAM_GB)
    dram_bw_gbps: float = Field(FIXED_DEFAULTS["dram_bw_gbps"], ge=DRAM_BW_RANGE_GBPS[0], le=DRAM_BW_RANGE_GBPS[1])

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


class HardwareSpace(StrictModel):
    """Lists of values per parameter; the space is their Cartesian product (default: the paper's 3,240 points)."""

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
        parts = []
        for item in err.errors():
            key = ".".join(str(p) for p in item["loc"]) or where
            msg = item["msg"].removeprefix("Value error, ")
            parts.append(f"'{key}={values.get(key)}': {msg} ({_MEANING.get(key, key)})")
        raise UserError("hardware " + "; ".join(parts)) from None


def number_of(key: str, raw: Any, flag: str | None = None) -> int | float | str:
    """A hardware value from text (or a number): finite, integral where it must be; `flag` names it in errors."""
    where = flag or f"--hw {key}"
    sep = " " if flag else "="
    if key == "dram_type":
        return str(raw).strip()
    if isinstance(raw, bool):
        raise UserError(f"{where}{sep}{raw}: not a number ({_MEANING[key]})")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise UserError(f"{where}{sep}{raw}: not a number ({_MEANING[key]})") from None
    if not math.isfinite(value):
        raise UserError(f"{where}{sep}{raw}: must be a finite number ({_MEANING[key]})")
    if key in INT_KEYS:
        if value != int(value):
            raise UserError(f"{where}{sep}{raw}: must be a whole number ({_MEANING[key]})")
        return int(value)
    return value


def parse_hw(text: str, defaults: dict[str, Any] | None = None, given_elsewhere: set[str] | None = None
             ) -> HardwareConfig:
    """Parse ``clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2`` (fixed keys optional).

    All six template keys are required unless `defaults` supplies them; a key given twice (or also as its own flag,
    `given_elsewhere`) is refused. Raises UserError naming the key.
    """
    values: dict[str, Any] = dict(defaults or {})
    seen: set[str] = set()
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not raw:
            raise UserError(f"--hw: '{item}' is not key=value (e.g. clusters=1,width=256,depth=8)")
        if key not in HW_KEYS:
            close = difflib.get_close_matches(key, HW_KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UserError(f"--hw: unknown key '{key}'{hint}; allowed: {', '.join(HW_KEYS)}")
        if key in seen:
            raise UserError(f"--hw: '{key}' is given twice; give each key once")
        if key in (given_elsewhere or ()):
            raise UserError(f"--hw {key}=...: also given as its own option; give it once")
        seen.add(key)
        values[key] = number_of(key, raw)
    missing = [k for k in TEMPLATE_KEYS if k not in values]
    if missing:
        raise UserError(
            f"--hw: missing {', '.join(missing)}; give all of {', '.join(TEMPLATE_KEYS)} "
            "(e.g. clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2)"
        )
    return _validated(values, where="hw")


def parse_list(key: str, text: str, flag: str | None = None) -> list[Any]:
    """Parse a comma list for one space parameter (``--width 32,64``); duplicates are refused."""
    if key not in HW_KEYS:
        raise UserError(f"unknown hardware parameter '{key}'; allowed: {', '.join(HW_KEYS)}")
    flag = flag or f"--{key.replace('_', '-')}"
    values = [number_of(key, v.strip(), flag) for v in str(text).split(",") if v.strip()]
    if not values:
        raise UserError(f"{flag}: give at least one value")
    if len(set(values)) < len(values):
        raise UserError(f"{flag} {text}: a value is listed twice; give each once")
    return values
