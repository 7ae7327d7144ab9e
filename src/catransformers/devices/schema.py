"""The TOML form of a device one can buy, validated by pydantic: every figure carries its source beside it.

A figure is an inline table: ``tdp_w = { value = 60.0, source = "orin-brief" }`` where ``source`` names an entry of
the file's ``[sources.<key>]`` table (title, publisher, year, url), or an estimate:
``idle_w = { value = 5.0, estimate = true, range = [3.0, 8.0], method = "how it was derived" }``.
Numbers must be finite and in range; unknown keys are rejected (the loader names the key and the file).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from catransformers.carbon.tables import NODES_NM
from catransformers.strict import StrictModel

DeviceClass = Literal["edge-gpu", "datacenter-gpu", "cpu", "npu"]
Deployment = Literal["edge", "datacenter"]
MemoryKind = Literal["hbm", "gddr", "lpddr", "ddr"]
FIGURE_FIELDS = (
    "int8_tops", "fp16_tflops", "memory_type", "memory_gb", "memory_bw_gbps", "tdp_w", "idle_w", "process",
    "act_node_nm", "die_area_mm2", "board_kg", "product_kg", "product_chip_share", "product_memory_share",
    "boavizta_kg", "pue", "lifetime_years", "utilisation",
)


class Source(StrictModel):
    """Where a figure comes from: vendor datasheet, whitepaper, published product carbon footprint or paper."""

    title: str = Field(min_length=3)
    publisher: str = Field(min_length=2)
    year: int = Field(ge=1990, le=2100)
    url: str | None = None

    def cite(self) -> str:
        return f"{self.title} ({self.publisher}, {self.year})" + (f" {self.url}" if self.url else "")


class Figure(StrictModel):
    """One number with its source (a key of the file's sources) or, for estimates, a range and a method."""

    value: float
    source: str | None = None
    estimate: bool = False
    range: tuple[float, float] | None = None
    method: str | None = None
    note: str | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            raise ValueError("must be a finite, non-negative number")
        return v

    @model_validator(mode="after")
    def _sourced(self) -> Figure:
        if self.estimate:
            if self.range is None or self.method is None:
                raise ValueError("an estimate needs range = [low, high] and method = '...'")
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= self.value <= hi):
                raise ValueError(f"range [{lo}, {hi}] must be finite and contain the value {self.value}")
        elif self.source is None:
            raise ValueError("needs source = '<key of [sources]>' (or estimate = true with range and method)")
        return self


class Text(StrictModel):
    """A descriptive figure (memory type, process) with its source."""

    value: str = Field(min_length=1)
    source: str | None = None
    estimate: bool = False
    method: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> Text:
        if self.source is None and not (self.estimate and self.method):
            raise ValueError("needs source = '<key of [sources]>' (or estimate = true with method)")
        return self


class DeviceFile(StrictModel):
    """One device: identity, throughput per precision, memory, power, process, embodied-carbon inputs."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=60)
    name: str
    vendor: str
    device_class: DeviceClass = Field(
        alias="class", description="efficiency class whose fitted efficiencies apply")
    deployment: Deployment
    form: str = Field(description="module, pcie-card, sxm-module, board, cpu-socket ...")
    memory_kind: MemoryKind
    int8_tops: Figure | None = Field(None, description="peak dense int8, 1e12 ops/s")
    fp16_tflops: Figure | None = Field(None, description="peak dense fp16 (bf16 where noted), 1e12 FLOP/s")
    memory_type: Text
    memory_gb: Figure
    memory_bw_gbps: Figure
    tdp_w: Figure
    idle_w: Figure
    process: Text
    act_node_nm: Figure = Field(description="the ACT node row used for die carbon")
    die_area_mm2: Figure
    board_kg: Figure = Field(description="board, thermal and packaging embodied carbon")
    product_kg: Figure | None = Field(None, description="a published product carbon footprint, used when given")
    product_chip_share: Figure | None = Field(None, description="chips' share of product_kg, from the footprint")
    product_memory_share: Figure | None = Field(None, description="memory's share of product_kg, from the footprint")
    boavizta_kg: Figure | None = Field(None, description="Boavizta's estimate, shown as a cross-check only")
    pue: Figure | None = Field(None, description="datacenter PUE applied to operational energy")
    lifetime_years: Figure | None = Field(None, description="datacenter device service life for allocation")
    utilisation: Figure | None = Field(None, description="datacenter average utilisation for allocation")
    efficiency: dict[str, float] | None = Field(
        None, description="optional override of the class efficiencies: compute, memory, launch_us")
    sources: dict[str, Source]

    @model_validator(mode="after")
    def _check(self) -> DeviceFile:
        for name in FIGURE_FIELDS:
            fig = getattr(self, name)
            if fig is not None and fig.source is not None and fig.source not in self.sources:
                raise ValueError(f"{name}: source '{fig.source}' is not a key of [sources]")
        if self.int8_tops is None and self.fp16_tflops is None:
            raise ValueError("needs int8_tops or fp16_tflops")
        for name in ("memory_gb", "memory_bw_gbps", "tdp_w", "die_area_mm2"):
            if getattr(self, name).value <= 0:
                raise ValueError(f"{name}: must be positive")
        for name in ("int8_tops", "fp16_tflops"):
            fig = getattr(self, name)
            if fig is not None and fig.value <= 0:
                raise ValueError(f"{name}: must be positive")
        if self.act_node_nm.value not in NODES_NM:
            raise ValueError(f"act_node_nm: {self.act_node_nm.value:g} is not an ACT node row; allowed: "
                             f"{', '.join(str(n) for n in NODES_NM)}")
        if self.idle_w.value > self.tdp_w.value:
            raise ValueError(f"idle_w {self.idle_w.value} exceeds tdp_w {self.tdp_w.value}")
        shares = [f.value for f in (self.product_chip_share, self.product_memory_share) if f is not None]
        if shares and (self.product_kg is None or len(shares) != 2 or sum(shares) > 1.0):
            raise ValueError("product_chip_share and product_memory_share go together with product_kg, sum <= 1")
        if self.pue is not None and not 1.0 <= self.pue.value <= 3.0:
            raise ValueError("pue: must be within [1, 3]")
        if self.utilisation is not None and not 0.0 < self.utilisation.value <= 1.0:
            raise ValueError("utilisation: must be within (0, 1]")
        if self.lifetime_years is not None and self.lifetime_years.value <= 0:
            raise ValueError("lifetime_years: must be positive")
        if self.efficiency is not None:
            unknown = set(self.efficiency) - {"compute", "memory", "launch_us"}
            if unknown:
                raise ValueError(f"efficiency: unknown key(s) {', '.join(sorted(unknown))}; "
                                 "allowed: compute, memory, launch_us")
            for key, val in self.efficiency.items():
                ok = math.isfinite(val) and (0 < val <= 1 if key != "launch_us" else 0 <= val <= 1e4)
                if not ok:
                    raise ValueError(f"efficiency.{key}: out of range ({val})")
        return self

    def figures(self) -> dict[str, Figure | Text]:
        """Every figure present, by field name."""
        return {n: getattr(self, n) for n in FIGURE_FIELDS if getattr(self, n) is not None}
