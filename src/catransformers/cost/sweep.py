"""A whole hardware space for one model: every design, its feasible carbon-latency front, the best per objective."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from catransformers.cost.designs import evaluate_designs
from catransformers.cost.settings import CostSettings
from catransformers.hardware.config import HardwareSpace
from catransformers.models.spec import ModelSpec

if TYPE_CHECKING:  # pandas is imported inside the functions, so `import catransformers.cost` stays light
    import pandas as pd


SWEEP_OBJECTIVES = {"min_carbon": "total_carbon_kg", "min_latency": "latency_s", "min_energy": "energy_per_inference_j"}


@dataclass
class SweepResult:
    """Every design of a space for one model, its feasible carbon-latency front and the best design per objective."""

    designs: pd.DataFrame  # one row per config (evaluate_designs columns, plus model and latency_ms)
    front: pd.DataFrame  # feasible designs not dominated in (total carbon, latency), by latency
    best: dict[str, pd.Series] = field(default_factory=dict)  # SWEEP_OBJECTIVES name -> row
    evaluate_s: float = 0.0

    @property
    def feasible(self) -> pd.DataFrame:
        return self.designs[self.designs["feasible"]]


def sweep_designs(spec: ModelSpec, space: HardwareSpace, settings: CostSettings | None = None) -> SweepResult:
    """Evaluate `space` for `spec`; the front and the best feasible design per objective (ties: least carbon)."""
    settings = settings or CostSettings()
    t0 = time.perf_counter()
    df = evaluate_designs(spec, space, settings).assign(hardware_kind="template")
    df.insert(0, "model", spec.id)
    return summarize_designs(df, time.perf_counter() - t0)


def summarize_designs(df: pd.DataFrame, evaluate_s: float = 0.0) -> SweepResult:
    """The feasible carbon-latency front and the best feasible design per objective of a designs table.

    The table may mix the accelerator template and bought devices (catransformers.devices): they share the
    cost and carbon columns.
    """
    from catransformers.report.pareto import pareto_mask

    df = df.reset_index(drop=True)
    df["latency_ms"] = df["latency_s"] * 1e3
    feas = df[df["feasible"].astype(bool)]
    mask = pareto_mask(feas[["total_carbon_kg", "latency_s"]].to_numpy(float), [False, False], keep_duplicates=False)
    front = feas[mask].sort_values("latency_s")
    best = {}
    for name, col in SWEEP_OBJECTIVES.items():
        if len(feas):
            # ties (e.g. many configs at the same DRAM-bound latency) go to the lowest total carbon
            ranked = feas.assign(_key=feas[col].round(12)).sort_values(["_key", "total_carbon_kg"], kind="stable")
            best[name] = ranked.iloc[0].drop("_key")
    return SweepResult(df, front, best, evaluate_s)
