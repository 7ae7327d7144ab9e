"""The one pipeline call: model spec x hardware configs -> latency, energy, area, carbon, feasibility.

`evaluate_designs` is what the search calls thousands of times; it builds the workload once and evaluates
all configs in one vectorised pass (hardware.estimate), then adds carbon and the constraint checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from catransformers.carbon.model import CarbonSettings, embodied_die_kg, embodied_dram_kg, operational_kg
from catransformers.carbon.tables import check_dram, check_node
from catransformers.errors import UserError
from catransformers.hardware.config import FIXED_DEFAULTS, HW_KEYS, TEMPLATE_KEYS, HardwareConfig, HardwareSpace
from catransformers.hardware.dram import complete_dram
from catransformers.hardware.estimate import estimate
from catransformers.hardware.systolic import DATAFLOWS, DEFAULT_TIMING, check_timing
from catransformers.hardware.tech import Tech
from catransformers.models.spec import ModelSpec
from catransformers.strict import StrictModel
from catransformers.workload.ops import COMPONENTS, WorkloadOptions, build_workload
from catransformers.workload.resident import peak_activation_bytes, resident_bytes

if TYPE_CHECKING:  # pandas is imported inside the functions, so `import catransformers.cost` stays light
    import pandas as pd

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


def hardware_columns(hardware: Any) -> dict[str, np.ndarray]:
    """Columnar template arrays from a HardwareSpace, a HardwareConfig, a DataFrame or a dict of arrays."""
    if isinstance(hardware, HardwareSpace):
        return hardware.grid()
    if isinstance(hardware, HardwareConfig):
        return hardware.columns()
    if hasattr(hardware, "to_dict") and hasattr(hardware, "columns"):  # DataFrame
        data = {c: hardware[c].to_numpy() for c in hardware.columns if c in HW_KEYS}
    elif isinstance(hardware, dict):
        data = {k: np.asarray(v) for k, v in hardware.items() if k in HW_KEYS}
    else:
        raise UserError(f"hardware must be a HardwareSpace, HardwareConfig or DataFrame, not {type(hardware).__name__}")
    missing = [k for k in TEMPLATE_KEYS if k not in data]
    if missing:
        raise UserError(f"hardware table lacks column(s) {', '.join(missing)}; needs {', '.join(TEMPLATE_KEYS)}")
    n = len(data["clusters"])
    for key in HW_KEYS:
        if key not in data:
            loose = FIXED_DEFAULTS[key] is None or key == "dram_type"
            data[key] = np.full(n, FIXED_DEFAULTS[key], dtype=object if loose else None)
    derived = ("dram_channels", "dram_bw_gbps")  # missing (None / NaN) = from the memory table
    for key in HW_KEYS:
        if key == "dram_type":
            data[key] = np.asarray([check_dram(str(t)) for t in data[key]])
            continue
        if key in derived:
            arr = np.asarray([np.nan if v is None else v for v in data[key]], dtype=float)
            if np.any(arr[~np.isnan(arr)] <= 0) or np.any(np.isinf(arr)):
                raise UserError(f"hardware column '{key}' has zero, negative or infinite values")
            data[key] = np.asarray([None if np.isnan(v) else v for v in arr], dtype=object)
            continue
        arr = np.asarray(data[key], dtype=float)
        low_ok = arr >= 0 if key == "dram_gb" else arr > 0
        if not np.all(np.isfinite(arr)) or not np.all(low_ok):
            raise UserError(f"hardware column '{key}' has zero, negative or missing values")
        data[key] = arr
    for node in np.unique(data["node_nm"]):
        check_node(int(node))
    return data


def _tops(hw: dict[str, np.ndarray]) -> np.ndarray:
    return (np.asarray(hw["clusters"], float) * np.asarray(hw["width"], float) * np.asarray(hw["depth"], float)
            * 2 * np.asarray(hw["freq_mhz"], float) * 1e6 / 1e12)


def evaluate_designs(spec: ModelSpec, hardware: Any, settings: CostSettings | None = None) -> pd.DataFrame:
    """One row per hardware config: template columns, latency, energy, area, TOPS, carbon, bound, feasibility."""
    import pandas as pd

    settings = settings or CostSettings()
    hw = hardware_columns(hardware)
    if isinstance(hardware, HardwareSpace) and hardware.memory:
        hw = expand_memory(hw, hardware.memory, spec, settings)
    result = _evaluate(spec, hw, settings, per_op=False)
    return pd.DataFrame(result["columns"])


def expand_memory(hw: dict[str, np.ndarray], memory: list[str], spec: ModelSpec,
                  settings: CostSettings) -> dict[str, np.ndarray]:
    """Every config paired with the memory candidates of `memory` for this model (catransformers.memory):

    per listed technology the smallest sold part that holds the resident bytes and the next one up, and on chip
    only where the weights and the largest activations fit in the global buffer. A `memory_candidate` column
    says which (smallest / next / on_chip).
    """
    from catransformers.hardware.config import memory_technologies
    from catransformers.memory import NO_MEMORY, memory_candidates

    resident = resident_bytes(spec, settings.workload, hw["precision_bits"])
    glb = None
    if "auto" in memory or NO_MEMORY in memory:
        work = build_workload(spec, settings.workload)
        glb = np.maximum(np.asarray(hw["glb_mb"], float) * 1024.0**2
                         - peak_activation_bytes(work, hw["precision_bits"]), 0.0)
    cand = memory_candidates(resident, memory_technologies(memory), glb)
    if cand.empty:
        raise UserError(f"memory {memory}: no candidate holds {spec.id} ({float(np.max(resident)) / 1e6:.1f} MB); "
                        "add a DRAM technology or larger global buffers")
    idx = cand["design"].to_numpy()
    out = {k: np.asarray(v)[idx] for k, v in hw.items()}
    on_chip = cand["memory"].to_numpy() == NO_MEMORY
    out["dram_type"] = cand["memory"].to_numpy().astype(str)
    out["dram_gb"] = cand["dram_gb"].to_numpy(dtype=float)
    out["dram_channels"] = np.where(on_chip, None, cand["dram_channels"].to_numpy()).astype(object)
    out["dram_bw_gbps"] = np.full(len(idx), None, dtype=object)  # channels x rate x width (hardware/dram.py)
    out["memory_candidate"] = cand["candidate"].to_numpy().astype(str)
    return out


def memory_choice(spec: ModelSpec, config: HardwareConfig, memory: str, part: str = "smallest",
                  settings: CostSettings | None = None) -> tuple[HardwareConfig, str]:
    """`config` with one memory candidate of `expand_memory`, named as a joint/random trial names it.

    `memory` is a technology (its smallest sold part that holds this model's resident bytes, or with
    part='next' the one above) or 'none' (on chip only; the dram_capacity check then says whether the weights
    fit the global buffer). Returns the config and its `memory_candidate` label (smallest / next / on_chip).
    """
    from catransformers.memory import MEMORY_PARTS, NO_MEMORY, memory_candidates

    if part not in MEMORY_PARTS:
        raise UserError(f"memory part '{part}' is not one of {', '.join(MEMORY_PARTS)}")
    fields = config.model_dump()
    if memory == NO_MEMORY:
        on_chip = {"dram_type": NO_MEMORY, "dram_gb": 0.0, "dram_channels": None, "dram_bw_gbps": None}
        return HardwareConfig(**(fields | on_chip)), "on_chip"
    settings = settings or CostSettings()
    resident = resident_bytes(spec, settings.workload, np.array([config.precision_bits]))
    cand = memory_candidates(resident, [memory])
    row = cand[cand["candidate"] == part].iloc[0]
    chosen = {"dram_type": str(row["memory"]), "dram_gb": float(row["dram_gb"]),
              "dram_channels": int(row["dram_channels"]), "dram_bw_gbps": None}
    return HardwareConfig(**(fields | chosen)), part


def _cap(values: np.ndarray, cap: float | None, slack: float = 0.0) -> np.ndarray:
    return np.ones(len(values), bool) if cap is None else values <= cap + slack


def _evaluate(spec: ModelSpec, hw: dict[str, np.ndarray], settings: CostSettings, per_op: bool) -> dict[str, Any]:
    work = build_workload(spec, settings.workload)
    hw = complete_dram(hw, settings.tech)
    est = estimate(work, hw, settings.tech, settings.dataflow, settings.double_buffered, per_op=per_op,
                   timing=settings.timing)
    carbon, cons = settings.carbon, settings.constraints
    die = embodied_die_kg(est.area_mm2, hw["node_nm"], carbon)
    dram = embodied_dram_kg(hw["dram_type"], hw["dram_gb"], carbon)
    op = operational_kg(est.energy_j, est.latency_s, est.leakage_w, carbon)
    tops = _tops(hw)
    n = len(tops)
    # Fraction of the active hours the accelerator is busy; above 1 it cannot serve the usage profile.
    active_s = carbon.lifetime_years * 365 * carbon.hours_per_day * 3600
    duty = carbon.inferences() * est.latency_s / active_s if active_s > 0 else np.full(n, np.inf)
    resident = resident_bytes(spec, settings.workload, hw["precision_bits"])
    dram_bytes_cap = np.asarray(hw["dram_gb"], float) * 1024.0**3
    # on chip only: the weights (+ KV cache) and the largest GEMM's activations share the global buffer
    on_chip_cap = np.asarray(hw["glb_mb"], float) * 1024.0**2 - peak_activation_bytes(work, hw["precision_bits"])
    capacity = np.where(dram_bytes_cap > 0, dram_bytes_cap, on_chip_cap)
    ok = {
        "tops": _cap(tops, cons.max_tops, 1e-9),
        "area": _cap(est.area_mm2, cons.max_area_mm2),
        "latency": _cap(est.latency_s * 1e3, cons.max_latency_ms),
        "dram_capacity": resident <= capacity if cons.check_dram_capacity else np.ones(n, bool),
        "duty_cycle": duty <= 1.0 if cons.check_duty_cycle else np.ones(n, bool),
    }
    cols: dict[str, Any] = {k: hw[k] for k in (*HW_KEYS, "dram_pj_per_bit")}
    if "memory_candidate" in hw:
        cols["memory_candidate"] = hw["memory_candidate"]
    cols["dram_channels"] = np.asarray(hw["dram_channels"]).astype(int)
    for key in ("clusters", "width", "depth", "precision_bits", "node_nm"):
        cols[key] = np.asarray(hw[key]).astype(int)
    embodied = die + dram
    cols |= {
        "tops": tops,
        "latency_s": est.latency_s,
        "energy_per_inference_j": est.energy_j,
        "leakage_w": est.leakage_w,
        "area_mm2": est.area_mm2,
        "dram_bytes_per_inference": est.dram_bytes,
        "embodied_die_kg": die,
        "embodied_dram_kg": dram,
        "embodied_kg": embodied,
        "operational_kg": op["operational_kg"],
        "operational_idle_kg": op["idle_kg"],
        "total_carbon_kg": embodied + op["operational_kg"],
        "fleet_total_carbon_kg": (embodied + op["operational_kg"]) * carbon.fleet_size,
        "bound": est.bound,
        "bound_share": est.bound_share,
        "duty_cycle": duty,
        "feasible": np.logical_and.reduce([ok[c] for c in CONSTRAINTS]),
    }
    for part, joules in (getattr(est, "energy_breakdown_j", None) or {}).items():
        cols[f"energy_{part}_j"] = joules
    cols |= {f"ok_{name}": ok[name] for name in CONSTRAINTS}
    _check_finite(cols, hw)
    return {"columns": cols, "estimate": est, "workload": work}


_FINITE_COLUMNS = ("latency_s", "energy_per_inference_j", "area_mm2", "total_carbon_kg")


def _check_finite(cols: dict[str, Any], hw: dict[str, np.ndarray]) -> None:
    """Never hand on a NaN or infinite result: name the first offending design instead."""
    for key in _FINITE_COLUMNS:
        bad = ~np.isfinite(np.asarray(cols[key], dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            design = ",".join(f"{k}={_plain(hw[k][i])}" for k in HW_KEYS)
            raise UserError(f"the cost model gives a non-finite {key} for {design}: a hardware or technology figure "
                            "is outside its physical range")


def breakdown(spec: ModelSpec, config: HardwareConfig, settings: CostSettings | None = None) -> pd.DataFrame:
    """Per encoder and component (COMPONENTS): latency, energy (incl. leakage share), MACs, DRAM bytes, shares."""
    import pandas as pd

    settings = settings or CostSettings()
    res = _evaluate(spec, config.columns(), settings, per_op=True)
    work, est = res["workload"], res["estimate"]
    ops = pd.DataFrame({
        "encoder": work.encoder, "component": work.component, "latency_s": est.op_latency_s[:, 0],
        "energy_j": est.op_energy_j[:, 0], "macs": work.macs, "dram_bytes": est.op_dram_bytes[:, 0],
    })
    table = ops.groupby(["encoder", "component"], sort=False, as_index=False).sum()
    table["component_label"] = table["component"].map(COMPONENTS)
    table["latency_share"] = table["latency_s"] / table["latency_s"].sum()
    table["energy_share"] = table["energy_j"] / table["energy_j"].sum()
    order = {c: i for i, c in enumerate(COMPONENTS)}
    enc_order = {e: i for i, e in enumerate(spec.encoder_names)}
    table = table.sort_values(by=["encoder", "component"],
                              key=lambda s: s.map(enc_order) if s.name == "encoder" else s.map(order))
    return table.reset_index(drop=True)


def estimate_design(spec: ModelSpec, config: HardwareConfig, settings: CostSettings | None = None) -> dict[str, Any]:
    """Everything `catransformers estimate` shows for one design, as plain JSON-able values (units in keys)."""
    settings = settings or CostSettings()
    row = evaluate_designs(spec, config, settings).iloc[0]
    parts = breakdown(spec, config, settings)
    carbon = settings.carbon
    total = float(row["total_carbon_kg"])
    out: dict[str, Any] = {"model": spec.id, "hardware": {k: _plain(row[k]) for k in HW_KEYS}}
    for key in ("latency_s", "energy_per_inference_j", "leakage_w", "area_mm2", "tops", "dram_bytes_per_inference",
                "embodied_die_kg", "embodied_dram_kg", "embodied_kg", "operational_kg", "operational_idle_kg",
                "total_carbon_kg", "bound", "bound_share", "duty_cycle", "feasible", *(f"ok_{c}" for c in CONSTRAINTS)):
        out[key] = _plain(row[key])
    parts_j = {c[len("energy_"):-2]: float(row[c]) for c in row.index if c.startswith("energy_") and c.endswith("_j")
               and c != "energy_per_inference_j"}
    if parts_j:
        out["energy_breakdown_j"] = parts_j
    out["macs"] = float(parts["macs"].sum())
    out["resident_dram_bytes"] = float(resident_bytes(spec, settings.workload, config.precision_bits))
    out["shares"] = {
        "embodied_die": float(row["embodied_die_kg"]) / total,
        "embodied_dram": float(row["embodied_dram_kg"]) / total,
        "operational": float(row["operational_kg"]) / total,
    }
    out["usage"] = {
        "lifetime_years": carbon.lifetime_years, "inferences_per_s": carbon.inferences_per_s,
        "hours_per_day": carbon.hours_per_day, "total_inferences": carbon.inferences(),
        "count_given": carbon.total_inferences is not None,
        "use_ci_g_per_kwh": carbon.use_ci_g_per_kwh(), "use_ci_source": carbon.use_ci_source(),
        "include_idle": carbon.include_idle, "fleet_size": carbon.fleet_size,
        "fleet_total_carbon_kg": total * carbon.fleet_size,
    }
    out["fab"] = {
        "node_nm": int(row["node_nm"]), "gpa": carbon.gpa, "fab_location": carbon.fab_location,
        "fab_yield": carbon.fab_yield, "die_g_per_cm2": carbon.die_g_per_cm2(int(row["node_nm"])),
        "dram_type": str(row["dram_type"]), "dram_gb": float(row["dram_gb"]),
    }
    out["dataflow"] = settings.dataflow_text()
    out["constraints"] = settings.constraints.model_dump()
    out["profile"] = settings.profile
    out["breakdown"] = [
        {"encoder": r.encoder, "component": r.component, "label": r.component_label, "latency_s": r.latency_s,
         "energy_j": r.energy_j, "macs": r.macs, "dram_bytes": r.dram_bytes, "latency_share": r.latency_share,
         "energy_share": r.energy_share}
        for r in parts.itertuples()
    ]
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


# ---------------------------------------------------------------- sweep: a whole hardware space for one model

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
