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
from pydantic import Field, ValidationError, field_validator, model_validator

from catransformers.carbon.tables import check_node
from catransformers.errors import UserError
from catransformers.hardware.dram import memory_name
from catransformers.memory import EDGE_TECHNOLOGIES, NO_MEMORY, check_capacity
from catransformers.strict import StrictModel

TEMPLATE_KEYS = ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb")
FIXED_KEYS = ("freq_mhz", "precision_bits", "node_nm", "dram_type", "dram_gb", "dram_channels", "dram_bw_gbps")
HW_KEYS = TEMPLATE_KEYS + FIXED_KEYS
INT_KEYS = ("clusters", "width", "depth", "precision_bits", "node_nm", "dram_channels")
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
    "dram_channels": None, "dram_bw_gbps": None,  # None: from the memory table (1 GB LPDDR3: 2 channels, 12.8 GB/s)
}
_MEANING = {
    "clusters": "number of tensor-core clusters", "width": "systolic array columns (and vector lanes)",
    "depth": "systolic array rows", "l2_kb": "per-cluster L2 SRAM in KB", "l2_bw": "GLB->L2 words/cycle",
    "glb_mb": "global buffer in MB", "freq_mhz": "clock in MHz", "precision_bits": "operand bits",
    "node_nm": "technology node in nm", "dram_type": "DRAM technology ('none': on chip only)",
    "dram_gb": "DRAM capacity in GB (0: on chip only)", "dram_channels": "DRAM channels (default: the part's bus)",
    "dram_bw_gbps": "DRAM bandwidth in GB/s (default: channels x data rate x width)",
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
    dram_gb: float = Field(FIXED_DEFAULTS["dram_gb"], ge=0, le=MAX_DRAM_GB)
    dram_channels: int | None = Field(None, ge=1, le=64)
    dram_bw_gbps: float | None = Field(None, ge=DRAM_BW_RANGE_GBPS[0], le=DRAM_BW_RANGE_GBPS[1])

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
            return memory_name(v)
        except UserError as err:
            raise ValueError(str(err)) from None

    @model_validator(mode="before")
    @classmethod
    def _on_chip_only(cls, data: Any) -> Any:
        """dram_gb = 0 and dram_type = 'none' say the same thing (weights in the global buffer): either implies both."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        kind = str(data.get("dram_type", FIXED_DEFAULTS["dram_type"])).strip().lower()
        gb = data.get("dram_gb", FIXED_DEFAULTS["dram_gb"])
        if kind == NO_MEMORY and "dram_gb" not in data:
            data["dram_gb"] = 0.0
        elif gb == 0 and "dram_type" not in data:
            data["dram_type"] = NO_MEMORY
        elif (kind == NO_MEMORY) != (gb == 0):
            raise ValueError(f"dram_type={kind} with dram_gb={gb}: an on-chip-only design has dram_type none and "
                             "dram_gb 0; a DRAM needs a capacity > 0")
        if kind == NO_MEMORY and (data.get("dram_channels") or data.get("dram_bw_gbps")):
            raise ValueError("an on-chip-only design (dram_type none) has no DRAM channels or bandwidth")
        if kind != NO_MEMORY and isinstance(gb, int | float) and gb > 0:
            try:
                name = memory_name(kind)
            except UserError:
                return data  # the dram_type validator names the unknown technology
            if name not in ACT_DRAM_NAMES:  # ACT's technologies keep any capacity, as before the memory table
                try:
                    check_capacity(name, float(gb))
                except UserError as err:
                    raise ValueError(str(err)) from None
        return data

    @property
    def has_dram(self) -> bool:
        return self.dram_gb > 0

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
    dram_channels: list[int | None] = Field(default_factory=lambda: [None])
    dram_bw_gbps: list[float | None] = Field(default_factory=lambda: [None])
    memory: list[str] = Field(default_factory=list, description="memory chosen per design: 'auto' (the edge LPDDR "
                              "family and on chip only) or technology names and 'none'; the smallest part that holds "
                              "the model and the next one up are tried. Empty: the dram_* lists above")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory_list(cls, v: Any) -> Any:
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list):
            return v
        out = []
        for item in items:
            name = str(item).strip().lower()
            if name != MEMORY_AUTO:
                try:
                    name = memory_name(name)
                except UserError as err:
                    raise ValueError(str(err)) from None
            out.append(name)
        return out

    def model_post_init(self, _ctx: Any) -> None:
        if self.memory:
            given = [k for k in ("dram_type", "dram_gb", "dram_channels", "dram_bw_gbps")
                     if getattr(self, k) != [FIXED_DEFAULTS[k]]]
            if given:
                raise UserError(f"hardware space: memory = {self.memory} chooses the DRAM per design; drop "
                                f"{', '.join(given)} (or drop memory)")
        for key in HW_KEYS:
            values = getattr(self, key)
            if not values:
                raise UserError(f"hardware space: '{key}' has no values; give at least one ({_MEANING[key]})")
        # Validate every distinct value once through HardwareConfig (positivity, node, DRAM type, precision).
        base = {k: getattr(self, k)[0] for k in HW_KEYS}
        for key in HW_KEYS:
            for v in getattr(self, key):
                _validated(_consistent(base | {key: v}, key), where=key)

    def __len__(self) -> int:
        """Points of the product that `grid()` keeps (a DRAM type with 0 GB, or 'none' with a capacity, is dropped;
        with `memory`, each is tried with up to two parts per technology and on chip)."""
        n = 1
        for key in HW_KEYS:
            if key not in ("dram_type", "dram_gb"):
                n *= len(getattr(self, key))
        n *= sum((memory_name(t) == NO_MEMORY) == (gb == 0) for t in self.dram_type for gb in self.dram_gb)
        if self.memory:
            techs = len(memory_technologies(self.memory))
            n *= 2 * techs + tries_on_chip(self.memory)
        return n

    def grid(self) -> dict[str, np.ndarray]:
        """Columnar arrays, one entry per point of the product (order: clusters slowest ... dram_bw fastest)."""
        lists = [getattr(self, k) for k in HW_KEYS]
        idx = np.indices([len(v) for v in lists]).reshape(len(lists), -1)
        out: dict[str, np.ndarray] = {}
        for key, values, ix in zip(HW_KEYS, lists, idx, strict=True):
            arr = np.asarray([memory_name(v) for v in values] if key == "dram_type" else values,
                             dtype=object if key in ("dram_channels", "dram_bw_gbps") else None)
            out[key] = arr[ix]
        # a product of memory lists pairs 'none' with capacities and DRAMs with 0 GB: keep consistent points only
        on_chip = out["dram_type"] == NO_MEMORY
        keep = on_chip == (np.asarray(out["dram_gb"], dtype=float) == 0)
        if not keep.all():
            out = {k: v[keep] for k, v in out.items()}
        return out

    def configs(self) -> list[HardwareConfig]:
        """Every point as a HardwareConfig (slow for big spaces; prefer grid())."""
        lists = [getattr(self, k) for k in HW_KEYS]
        points = (dict(zip(HW_KEYS, vals, strict=True)) for vals in itertools.product(*lists))
        return [HardwareConfig(**p) for p in points
                if (str(p["dram_type"]).lower() == NO_MEMORY) == (p["dram_gb"] == 0)]


MEMORY_AUTO = "auto"
# ACT's DRAM table (Gupta et al., ISCA 2022): capacities of these stay free-form (any GB), as before the memory
# table; the JEDEC families added with it (LPDDR4X/5/5X, DDR5, HBM) take the capacities their parts are sold in.
ACT_DRAM_NAMES = ("ddr3_50nm", "ddr3_40nm", "ddr3_30nm", "lpddr3_30nm", "lpddr3_20nm", "lpddr2_20nm", "lpddr4",
                  "ddr4_10nm")


def tries_on_chip(memory: list[str]) -> bool:
    """Whether a `memory` list tries on-chip-only designs ('auto' or 'none' listed)."""
    return MEMORY_AUTO in memory or NO_MEMORY in memory


def memory_technologies(memory: list[str]) -> list[str]:
    """The DRAM technologies a `memory` list tries ('auto' = the edge LPDDR family)."""
    names = [m for m in memory if m not in (MEMORY_AUTO, NO_MEMORY)]
    if MEMORY_AUTO in memory:
        names = [*EDGE_TECHNOLOGIES, *(n for n in names if n not in EDGE_TECHNOLOGIES)]
    return list(dict.fromkeys(names))


def _consistent(values: dict[str, Any], key: str) -> dict[str, Any]:
    """A space's point for checking one value: the memory pair made consistent around the value checked."""
    if key == "dram_type":
        on_chip = str(values["dram_type"]).strip().lower() == NO_MEMORY
        gb = values["dram_gb"] if values["dram_gb"] > 0 else FIXED_DEFAULTS["dram_gb"]
        return values | {"dram_gb": 0.0 if on_chip else gb} | ({"dram_channels": None, "dram_bw_gbps": None}
                                                             if on_chip else {})
    if key == "dram_gb":
        kind = values["dram_type"] if str(values["dram_type"]).lower() != NO_MEMORY else FIXED_DEFAULTS["dram_type"]
        return values | ({"dram_type": NO_MEMORY, "dram_channels": None, "dram_bw_gbps": None}
                         if values["dram_gb"] == 0 else {"dram_type": kind})
    if str(values["dram_type"]).lower() == NO_MEMORY or values["dram_gb"] == 0:
        return values | {"dram_type": NO_MEMORY, "dram_gb": 0.0, "dram_channels": None, "dram_bw_gbps": None}
    return values


def _validated(values: dict[str, Any], where: str) -> HardwareConfig:
    try:
        return HardwareConfig(**values)
    except ValidationError as err:
        parts = []
        for item in err.errors():
            key = ".".join(str(p) for p in item["loc"])
            msg = item["msg"].removeprefix("Value error, ")
            parts.append(f"'{key}={values.get(key)}': {msg} ({_MEANING.get(key, key)})" if key else msg)
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


def split_names(text: str) -> list[str]:
    """The non-empty, stripped items of a comma list of names ('lpddr4, lpddr5' -> ['lpddr4', 'lpddr5'])."""
    return [item.strip() for item in str(text).split(",") if item.strip()]


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
