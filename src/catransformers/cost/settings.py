"""The cost model's settings: workload, technology, carbon, dataflow, timing, and the design constraints."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from catransformers.carbon.model import CarbonSettings
from catransformers.errors import UserError
from catransformers.hardware.systolic import DATAFLOWS, DEFAULT_TIMING, check_timing
from catransformers.hardware.tech import Tech
from catransformers.strict import StrictModel
from catransformers.workload.ops import WorkloadOptions

# The paper's constraints (CATransformers, arXiv 2505.01386, §5 experimental setup): TOPS <= 20.48, area <= 31.99 mm2,
# latency <= 50 ms when latency is not an objective.
PAPER_MAX_TOPS = 20.48
PAPER_MAX_AREA_MM2 = 31.99
PAPER_MAX_LATENCY_MS = 50.0
CONSTRAINTS = ("tops", "area", "latency", "dram_capacity", "duty_cycle")
_OFF = ("none", "off", "")


class Constraints(StrictModel):
    """Deterministic design constraints, checked exactly before any fine-tune (None / 'none' removes a cap)."""

    max_tops: float | None = Field(PAPER_MAX_TOPS, gt=0, le=1e6, description="peak TOPS cap")
    max_area_mm2: float | None = Field(PAPER_MAX_AREA_MM2, gt=0, le=1e6, description="die area cap")
    max_latency_ms: float | None = Field(PAPER_MAX_LATENCY_MS, gt=0, le=1e9,
                                         description="latency cap (the search applies it if latency is no objective)")
    check_dram_capacity: bool = Field(True, description="weights (+ KV cache) must fit in the DRAM")
    check_duty_cycle: bool = Field(True, description="the accelerator must keep up with the usage profile "
                                   "(inferences x latency <= active hours)")

    text_number_fields: ClassVar[tuple[str, ...]] = ("max_tops", "max_area_mm2", "max_latency_ms")

    @field_validator("max_tops", "max_area_mm2", "max_latency_ms", mode="before")
    @classmethod
    def _cap_text(cls, v: Any) -> Any:
        """A cap from text ('20', 'none'); booleans are refused."""
        if isinstance(v, bool):
            raise ValueError("must be a number or 'none', not true/false")
        if isinstance(v, str):
            if v.strip().lower() in _OFF:
                return None
            try:
                return float(v)
            except ValueError:
                raise ValueError(f"'{v}' is not a number; give a number or 'none'") from None
        return v


class CostSettings(StrictModel):
    """Workload options, technology, dataflow, carbon settings and constraints."""

    workload: WorkloadOptions = Field(default_factory=WorkloadOptions)
    tech: Tech = Field(default_factory=Tech)
    carbon: CarbonSettings = Field(default_factory=CarbonSettings)
    dataflow: Literal["ws", "os"] = Field("ws", description="ws (weight-stationary) or os (output-stationary)")
    double_buffered: bool = Field(True, description="scalesim timing, WS: next fold's weights load during the current "
                                  "fold")
    timing: str = Field(DEFAULT_TIMING, description="systolic timing: scalesim (fold by fold, as SCALE-Sim v3), "
                        "pipelined (folds streamed back to back) or ideal (MACs / active PEs)")
    constraints: Constraints = Field(default_factory=Constraints)
    profile: str = Field("default", description="the named assumption bundle these settings were resolved from")

    @field_validator("dataflow", mode="before")
    @classmethod
    def _dataflow(cls, v: Any) -> Any:
        if isinstance(v, str) and v.lower() not in DATAFLOWS:
            raise ValueError("dataflow must be ws (weight-stationary) or os (output-stationary)")
        return v.lower() if isinstance(v, str) else v

    @field_validator("timing", mode="before")
    @classmethod
    def _timing(cls, v: Any) -> Any:
        try:
            return check_timing(v) if isinstance(v, str) else v
        except UserError as err:
            raise ValueError(str(err)) from None

    def dataflow_text(self) -> str:
        if self.dataflow == "os":
            return f"output-stationary, {self.timing} timing"
        overlap = ", double-buffered weights" if self.double_buffered and self.timing == "scalesim" else ""
        return f"weight-stationary, {self.timing} timing{overlap}"
