"""Model spec x hardware configs -> latency, energy, area, carbon, feasibility (the cost stage's one call).

`evaluate_designs` is what the search calls thousands of times; it builds the workload once and evaluates
all configs in one vectorised pass (hardware.estimate), then adds carbon and the constraint checks.
`breakdown` and `estimate_design` give one design's per-component view for `catransformers estimate`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from catransformers.carbon.model import embodied_die_kg, embodied_dram_kg, operational_kg
from catransformers.carbon.tables import check_dram, check_node
from catransformers.cost.memory import expand_memory, on_chip_bytes
from catransformers.cost.settings import CONSTRAINTS, CostSettings
from catransformers.errors import UserError
from catransformers.hardware.config import FIXED_DEFAULTS, HW_KEYS, TEMPLATE_KEYS, HardwareConfig, HardwareSpace
from catransformers.hardware.dram import complete_dram
from catransformers.hardware.estimate import estimate
from catransformers.models.spec import ModelSpec
from catransformers.workload.ops import COMPONENTS, Workload, build_workload
from catransformers.workload.resident import resident_bytes

if TYPE_CHECKING:  # pandas is imported inside the functions, so `import catransformers.cost` stays light
    import pandas as pd


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
    work = build_workload(spec, settings.workload)  # once, for the memory candidates and the estimate
    if isinstance(hardware, HardwareSpace) and hardware.memory:
        hw = expand_memory(hw, hardware.memory, spec, settings, work)
    result = _evaluate(spec, hw, settings, per_op=False, work=work)
    return pd.DataFrame(result["columns"])


def _cap(values: np.ndarray, cap: float | None, slack: float = 0.0) -> np.ndarray:
    return np.ones(len(values), bool) if cap is None else values <= cap + slack


def _evaluate(spec: ModelSpec, hw: dict[str, np.ndarray], settings: CostSettings, per_op: bool,
              work: Workload | None = None) -> dict[str, Any]:
    work = work if work is not None else build_workload(spec, settings.workload)
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
    duty = carbon.inferences() * est.latency_s / carbon.active_seconds()  # both figures are validated > 0
    resident = resident_bytes(spec, settings.workload, hw["precision_bits"])
    dram_bytes_cap = np.asarray(hw["dram_gb"], float) * 1024.0**3
    # on chip only: the weights (+ KV cache) and the largest GEMM's activations share the global buffer
    capacity = np.where(dram_bytes_cap > 0, dram_bytes_cap, on_chip_bytes(work, hw))
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
            design = ",".join(f"{k}={plain(hw[k][i])}" for k in HW_KEYS)
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
    out: dict[str, Any] = {"model": spec.id, "hardware": {k: plain(row[k]) for k in HW_KEYS}}
    for key in ("latency_s", "energy_per_inference_j", "leakage_w", "area_mm2", "tops", "dram_bytes_per_inference",
                "embodied_die_kg", "embodied_dram_kg", "embodied_kg", "operational_kg", "operational_idle_kg",
                "total_carbon_kg", "bound", "bound_share", "duty_cycle", "feasible", *(f"ok_{c}" for c in CONSTRAINTS)):
        out[key] = plain(row[key])
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


def plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v
