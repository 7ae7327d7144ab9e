"""Spec x bought devices x batch sizes -> latency, energy, allocated embodied and operational carbon, feasibility.

`evaluate_devices` returns one row per device x batch with the cost/carbon column names of
`catransformers.cost.evaluate_designs` (latency_s, energy_per_inference_j, embodied_kg, operational_kg,
total_carbon_kg, duty_cycle, feasible, ok_*), so a search can treat the catalogue as another hardware space.
Allocation: a dedicated (edge) device carries its whole embodied carbon; a shared (datacenter) device carries the
share of its service life the workload occupies at the device's average utilisation, and PUE multiplies its
operational energy. `reuse` treats the device as already owned: its embodied carbon is sunk (0 charged).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from catransformers.carbon.model import SECONDS_PER_YEAR, CarbonSettings, operational_kg
from catransformers.cost import Constraints, plain
from catransformers.devices.catalogue import resolve_devices
from catransformers.devices.efficiency import efficiency_for
from catransformers.devices.embodied import (
    LLMCARBON_KG_PER_GB,
    MEMORY_FACTOR_SOURCE,
    MEMORY_KG_PER_GB,
    device_embodied,
)
from catransformers.devices.model import PRECISIONS as PRECISION_BYTES
from catransformers.devices.model import check_precision, device_arrays, device_cost, supports
from catransformers.devices.schema import DeviceFile
from catransformers.errors import UserError
from catransformers.models.spec import ModelSpec
from catransformers.strict import StrictModel
from catransformers.workload.ops import WorkloadOptions
from catransformers.workload.resident import resident_bytes

if TYPE_CHECKING:
    import pandas as pd

# Fallbacks when a datacenter device file omits them (each catalogue file states its own, with source).
FALLBACK_PUE = 1.58  # Uptime Institute Global Data Center Survey 2023: average annual PUE 1.58
FALLBACK_LIFETIME_YEARS = 5.0  # estimate, range 3-6 (Microsoft FY2022 Form 10-K: server life extended to 6 years)
FALLBACK_UTILISATION = 0.5  # estimate, range 0.1-0.9 (Barroso et al., The Datacenter as a Computer, 3rd ed. 2018)


class DeviceSettings(StrictModel):
    """Workload, precision, batch sizes, carbon settings, allocation and constraints for bought devices.

    `constraints` is the template's model (catransformers.cost.Constraints): the latency cap, the DRAM capacity and
    duty-cycle checks apply to devices; the TOPS and area caps are the template's and do not.
    """

    workload: WorkloadOptions = Field(default_factory=WorkloadOptions)
    carbon: CarbonSettings = Field(default_factory=CarbonSettings)
    precision: str = Field("int8", description="int8 or fp16 (weights, activations, KV cache)")
    batches: tuple[int, ...] | None = Field(None, description="batch sizes to evaluate; None = workload.batch")
    allocation: Literal["auto", "dedicated", "shared"] = Field(
        "auto", description="auto: edge devices dedicated, datacenter devices shared")
    utilisation: float | None = Field(None, gt=0, le=1, description="shared devices: overrides the file's")
    device_lifetime_years: float | None = Field(None, gt=0, description="shared devices: overrides the file's")
    pue: float | None = Field(None, ge=1, le=3, description="overrides the device's PUE (edge: 1)")
    reuse: bool = Field(False, description="device already owned: embodied carbon is sunk, charged 0")
    constraints: Constraints = Field(default_factory=Constraints)
    devices_dir: str | None = Field(None, description="extra device TOMLs (else $CATRANSFORMERS_DEVICES)")

    def batch_list(self) -> list[int]:
        batches = list(self.batches) if self.batches is not None else [self.workload.batch]
        for b in batches:
            if int(b) != b or b <= 0:
                raise UserError(f"batch {b}: must be a positive integer")
        return [int(b) for b in batches]


def _figure(dev: DeviceFile, name: str, override: float | None, fallback: float) -> float:
    if override is not None:
        return override
    fig = getattr(dev, name)
    return fig.value if fig is not None else fallback


def evaluate_devices(spec: ModelSpec, devices: str | list[str] | list[DeviceFile],
                     settings: DeviceSettings | None = None, skip_unsupported: bool | None = None) -> pd.DataFrame:
    """One row per device x batch size. `devices`: 'all', ids, or DeviceFile objects.

    A device without the chosen precision is skipped when `skip_unsupported` (default: when devices == 'all'),
    else it is a UserError. A model that does not fit a device's memory gives ok_dram_capacity False, not an error.
    """
    import pandas as pd

    settings = settings or DeviceSettings()
    devs, batches, arrays, cost = prepare_devices(spec, devices, settings, skip_unsupported)
    return pd.DataFrame(carbon_columns(spec, devs, batches, arrays, cost, settings))


def prepare_devices(spec: ModelSpec, devices: str | list[str] | list[DeviceFile], settings: DeviceSettings,
                    skip_unsupported: bool | None = None) -> tuple[list[DeviceFile], list[int], Any, Any]:
    """The devices, batch sizes, device columns and roofline cost of `evaluate_devices` (before carbon)."""
    precision = check_precision(settings.precision)
    if skip_unsupported is None:
        skip_unsupported = devices == "all"
    if not devices:
        raise UserError("no device given; name one or more ids, or 'all' (see `catransformers devices`)")
    if isinstance(devices, (str, list, tuple)) and devices and not isinstance(devices[0], DeviceFile):
        devs = resolve_devices(devices, settings.devices_dir)  # type: ignore[arg-type]
    else:
        devs = list(devices)  # type: ignore[arg-type]
    if skip_unsupported:
        devs = [d for d in devs if supports(d, precision)]
        if not devs:
            raise UserError(f"no device in the list supports {precision}")
    batches = settings.batch_list()
    arrays = device_arrays(devs, precision)
    return devs, batches, arrays, device_cost(spec, settings.workload, batches, arrays, precision)


def carbon_columns(spec: ModelSpec, devs: list[DeviceFile], batches: list[int], arrays: Any, cost: Any,
                   settings: DeviceSettings, memory_factor: float = 1.0) -> dict[str, np.ndarray]:
    """Allocation, carbon and constraint columns, arrays over devices x batches flattened device-major.

    `memory_factor` multiplies the memory's kg CO2e per GB (an uncertainty draw; 1 = the cited factor).
    """
    carbon = settings.carbon
    precision = check_precision(settings.precision)
    n_dev, n_b = len(devs), len(batches)
    per_dev = lambda vals: np.repeat(np.asarray(vals), n_b)  # noqa: E731
    emb = [device_embodied(d, carbon, memory_factor) for d in devs]
    shared = np.array([settings.allocation == "shared" or (settings.allocation == "auto"
                                                           and d.deployment == "datacenter") for d in devs])
    pue = np.array([settings.pue if settings.pue is not None else (
        _figure(d, "pue", None, FALLBACK_PUE) if d.deployment == "datacenter" else 1.0) for d in devs])
    life = np.array([_figure(d, "lifetime_years", settings.device_lifetime_years, FALLBACK_LIFETIME_YEARS)
                     for d in devs])
    util = np.array([_figure(d, "utilisation", settings.utilisation, FALLBACK_UTILISATION) for d in devs])
    b = np.asarray(batches, dtype=float)[None, :]
    lat = cost.latency_s  # (D, B)
    per_inf = lat / b
    n_inf = carbon.inferences()
    share = np.where(shared[:, None], n_inf * per_inf / (life * SECONDS_PER_YEAR * util)[:, None], 1.0)
    charged = np.zeros_like(share) if settings.reuse else share
    energy = cost.energy_per_inference_j
    idle_w = np.array([d.idle_w.value for d in devs])[:, None] * np.ones_like(energy)
    op = operational_kg(energy, per_inf, idle_w, carbon)
    # Idle power is the owner's only for a dedicated device; a shared device's idle time belongs to other tenants.
    idle_kg = np.where(shared[:, None], 0.0, op["idle_kg"]) * pue[:, None]
    op_kg = op["active_kg"] * pue[:, None] + idle_kg
    bits = 8.0 * PRECISION_BYTES[precision]
    resident = np.array([float(resident_bytes(spec, settings.workload.model_copy(update={"batch": bb}),
                                              np.array([bits]))[0]) for bb in batches])[None, :]
    cons = settings.constraints
    ok_lat = np.ones_like(lat, dtype=bool) if cons.max_latency_ms is None else lat * 1e3 <= cons.max_latency_ms
    ok_mem = (np.ones_like(lat, dtype=bool) if not cons.check_dram_capacity
              else resident <= arrays.memory_bytes[:, None])
    duty = n_inf * per_inf / carbon.active_seconds()
    ok_duty = duty <= 1.0 if cons.check_duty_cycle else np.ones_like(lat, dtype=bool)
    chip, mem, board, total = (np.array([getattr(e, k) for e in emb])[:, None]
                               for k in ("chip_kg", "memory_kg", "board_kg", "total_kg"))
    flat = lambda a: np.broadcast_to(a, (n_dev, n_b)).ravel()  # noqa: E731
    return {
        "device": per_dev([d.id for d in devs]), "name": per_dev([d.name for d in devs]),
        "device_class": per_dev([d.device_class for d in devs]), "deployment": per_dev([d.deployment for d in devs]),
        "precision": np.full(n_dev * n_b, precision), "batch": np.tile(np.asarray(batches), n_dev),
        "latency_s": flat(lat), "latency_per_inference_s": flat(per_inf), "throughput_per_s": flat(b / lat),
        "energy_per_inference_j": flat(energy), "power_w": flat(cost.power_w),
        "bound": flat(np.where(cost.compute_s >= cost.memory_s, "compute", "memory")),
        "bound_share": flat(np.maximum(cost.compute_s, cost.memory_s) / lat),
        "launch_share": flat(cost.launch_s / lat),
        "peak_tops": per_dev(arrays.peak_ops / 1e12), "memory_gb": per_dev([d.memory_gb.value for d in devs]),
        "dram_bytes_per_inference": flat(cost.dram_bytes[None, :] / b), "resident_bytes": flat(resident),
        "embodied_device_kg": flat(total), "embodied_method": per_dev([e.method for e in emb]),
        "allocation": per_dev(np.where(shared, "shared", "dedicated")), "allocation_share": flat(share),
        "reuse": np.full(n_dev * n_b, settings.reuse), "pue": per_dev(pue),
        "embodied_die_kg": flat(chip * charged), "embodied_dram_kg": flat(mem * charged),
        "embodied_board_kg": flat(board * charged), "embodied_kg": flat(total * charged),
        "operational_kg": flat(op_kg), "operational_idle_kg": flat(idle_kg),
        "total_carbon_kg": flat(total * charged + op_kg),
        "duty_cycle": flat(duty), "feasible": flat(ok_lat & ok_mem & ok_duty),
        # The template's TOPS and area caps do not apply to bought devices.
        "ok_tops": np.ones(n_dev * n_b, bool), "ok_area": np.ones(n_dev * n_b, bool),
        "ok_latency": flat(ok_lat), "ok_dram_capacity": flat(ok_mem), "ok_duty_cycle": flat(ok_duty),
    }


def estimate_on_device(spec: ModelSpec, device_id: str, settings: DeviceSettings | None = None) -> dict[str, Any]:
    """Everything `estimate --device ID` shows, as plain JSON-able values with unit-suffixed keys.

    Unlike the table, a model that does not fit the device's memory is a UserError here.
    """
    settings = settings or DeviceSettings()
    dev = resolve_devices([device_id], settings.devices_dir)[0]
    row = evaluate_devices(spec, [dev], settings, skip_unsupported=False).iloc[0]
    if settings.constraints.check_dram_capacity and not row["ok_dram_capacity"]:
        need, have = row["resident_bytes"] / 1024.0**3, dev.memory_gb.value
        raise UserError(f"{spec.id} needs {need:.1f} GB ({settings.precision}, weights + KV cache) but {dev.id} has "
                        f"{have:g} GB; use a smaller model or batch, int8, or a larger device")
    out: dict[str, Any] = {"model": spec.id, "device": {"id": dev.id, "name": dev.name, "class": dev.device_class,
                                                        "deployment": dev.deployment, "form": dev.form}}
    for key, val in row.items():
        if key in ("device", "name", "device_class", "deployment"):
            continue
        out[key] = plain(val)
    eff = efficiency_for(dev.device_class, dev.efficiency)
    out["efficiency"] = {"compute": eff.compute, "memory": eff.memory, "launch_us": eff.launch_us,
                         "fitted": eff.fitted, "note": eff.note}
    carbon = settings.carbon
    out["usage"] = {
        "lifetime_years": carbon.lifetime_years, "inferences_per_s": carbon.inferences_per_s,
        "hours_per_day": carbon.hours_per_day, "total_inferences": carbon.inferences(),
        "use_ci_g_per_kwh": carbon.use_ci_g_per_kwh(), "use_ci_source": carbon.use_ci_source(),
        "include_idle": carbon.include_idle,
    }
    out["memory_factor_kg_per_gb"] = MEMORY_KG_PER_GB[dev.memory_kind]
    out["memory_factor_source"] = MEMORY_FACTOR_SOURCE[dev.memory_kind]
    factor = MEMORY_KG_PER_GB[dev.memory_kind]
    out["memory_factor_range_kg_per_gb"] = [min(factor, LLMCARBON_KG_PER_GB), max(factor, LLMCARBON_KG_PER_GB)]
    out["figures"] = figures_with_sources(dev)
    out["constraints"] = {"max_latency_ms": settings.constraints.max_latency_ms,
                          "check_dram_capacity": settings.constraints.check_dram_capacity,
                          "check_duty_cycle": settings.constraints.check_duty_cycle}
    return out


def figures_with_sources(dev: DeviceFile) -> dict[str, dict[str, Any]]:
    """Each figure of a device with its citation (or estimate range and method)."""
    out: dict[str, dict[str, Any]] = {}
    for name, fig in dev.figures().items():
        entry: dict[str, Any] = {"value": fig.value}
        if fig.source is not None:
            entry["source"] = dev.sources[fig.source].cite()
        if getattr(fig, "estimate", False):
            entry["estimate"] = True
            if getattr(fig, "range", None) is not None:
                entry["range"] = list(fig.range)  # type: ignore[union-attr]
            entry["method"] = fig.method  # type: ignore[union-attr]
        if fig.note:
            entry["note"] = fig.note
        out[name] = entry
    return out
