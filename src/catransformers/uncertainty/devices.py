"""Uncertainty bands for bought devices: the same joint samples, propagated through the device carbon model.

Three kinds of draw move a device's answer:
- the table's shared figures (`carbon.*` grid intensities, yield, lifetime, and `dram.g_per_gb` on the memory's
  kg per GB), drawn exactly as for the accelerator template, so both are compared under one assumption per sample;
- each device file's own estimates that carry a range (`DEVICE_FIGURES`): triangular over the range with the
  file's value as the mode (the file states a preferred value and its bounds), one stream per device and figure;
- the device model's validated error, the table's `device.time_factor`, drawn independently per device (each
  class's efficiencies were fitted apart), multiplying latency and energy per inference.
The `tech.*` figures describe the template's silicon and do not apply. Energy is affine in idle power, so two
roofline evaluations give it exactly for every draw; allocation and carbon are then the device model's own
`carbon_columns`, once per sample (devices x batches are few).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from catransformers.devices.evaluate import DeviceSettings, carbon_columns, prepare_devices
from catransformers.devices.model import device_cost
from catransformers.devices.schema import DeviceFile, Figure
from catransformers.hardware.tech import Tech
from catransformers.models.spec import ModelSpec
from catransformers.uncertainty.apply import SampleSettings, settings_for_sample
from catransformers.uncertainty.propagate import DEVICE_SECTION, UncertainResult, check_samples
from catransformers.uncertainty.sampler import check_n, draw, draw_one
from catransformers.uncertainty.table import Distribution, DistributionTable, load_table

# Device-file figures drawn over their stated ranges where the file marks them as estimates (the peak and
# bandwidth estimates act through latency, which the validated time factor already spreads).
DEVICE_FIGURES = ("idle_w", "board_kg", "die_area_mm2", "lifetime_years", "utilisation")
_OVERRIDES = {"lifetime_years": "device_lifetime_years", "utilisation": "utilisation"}  # a user value is not drawn
TIME_FACTOR_KEY = "device.time_factor"
SHARED_SECTIONS = ("carbon.", "dram.g_per_gb")
DEVICE_LATENCY_NOTE = "bought devices: latency varies with the device model's validated error (device.time_factor)"


def figure_distribution(fig: Figure | None) -> Distribution | None:
    """Triangular over an estimate's range, its value the mode; None for a cited figure or one with no range."""
    if fig is None or not fig.estimate or fig.range is None or not fig.range[0] < fig.range[1]:
        return None
    low, high = fig.range
    return Distribution(kind="absolute", unit="the figure's unit", distribution="triangular", low=low,
                        mode=min(max(fig.value, low), high), high=high, nominal=fig.value,
                        why="a device file's estimate: preferred value and bounds",
                        sources=[fig.method or "the device file's estimate"])


def _device_draws(devs: list[DeviceFile], settings: DeviceSettings, n: int, seed: int) -> dict[str, np.ndarray]:
    """{field: (samples x devices)} for each drawn figure (the file's value where a device has no range)."""
    out: dict[str, np.ndarray] = {}
    for name in DEVICE_FIGURES:
        if name in _OVERRIDES and getattr(settings, _OVERRIDES[name]) is not None:
            continue
        cols, drawn = [], False
        for dev in devs:
            fig = getattr(dev, name)
            dist = figure_distribution(fig)
            if dist is None:
                cols.append(np.full(n, np.nan if fig is None else fig.value))
            else:
                cols.append(draw_one(dist, n, seed, f"device:{dev.id}.{name}"))
                drawn = True
        if drawn:
            out[name] = np.stack(cols, axis=1)
    return out


def _with_figures(dev: DeviceFile, values: dict[str, float]) -> DeviceFile:
    update = {k: getattr(dev, k).model_copy(update={"value": float(v)}) for k, v in values.items()
              if getattr(dev, k) is not None and np.isfinite(v)}
    return dev.model_copy(update=update)


def evaluate_devices_uncertain(spec: ModelSpec, devices: str | list[str] | list[DeviceFile],
                               settings: DeviceSettings | None = None, n: int = 300, seed: int = 0,
                               table: DistributionTable | str | None = None,
                               skip_unsupported: bool | None = None) -> UncertainResult:
    """`evaluate_devices` under `n` joint samples: arrays (samples x devices·batches, device-major).

    Same (spec, devices, settings, n, seed, table) => the same arrays; with the same n and seed, the shared
    figures hold the same draws as `evaluate_uncertain`'s, so `propagate.combine` can set both side by side.
    """
    import pandas as pd

    settings = settings or DeviceSettings()
    n = check_n(n)
    devs, batches, arrays, cost = prepare_devices(spec, devices, settings, skip_unsupported)
    n_designs = len(devs) * len(batches)
    check_samples(n, n_designs)
    tab = table if isinstance(table, DistributionTable) else load_table(table)
    shared = [k for k in tab.figure if k.startswith(SHARED_SECTIONS)]
    samples = draw(n, seed, tab, shared)  # validates the seed
    carbon = settings.carbon
    runs = ([settings_for_sample(samples, i, carbon=carbon, table=tab) for i in range(n)] if shared
            else [SampleSettings(tech=Tech(), carbon=carbon)] * n)  # a table of device figures only
    figures = _device_draws(devs, settings, n, seed)
    if TIME_FACTOR_KEY in tab.figure:
        dist = tab.figure[TIME_FACTOR_KEY]
        time_f = np.stack([draw_one(dist, n, seed, f"{TIME_FACTOR_KEY}:{d.id}") for d in devs], axis=1)
    else:
        time_f = np.ones((n, len(devs)))

    nominal = pd.DataFrame(carbon_columns(spec, devs, batches, arrays, cost, settings))
    # energy per inference is affine in idle power at fixed times: its slope from one more roofline evaluation
    probe = device_cost(spec, settings.workload, batches, replace(arrays, idle_w=arrays.idle_w + 1.0),
                        settings.precision)
    idle_slope = probe.energy_per_inference_j - cost.energy_per_inference_j  # J per W of idle, (devices, batches)
    b = np.asarray(batches, dtype=float)[None, :]
    metrics = ("total_carbon_kg", "operational_kg", "embodied_kg", "energy_per_inference_j", "latency_s")
    out = {m: np.empty((n, n_designs)) for m in metrics}
    for i, run in enumerate(runs):
        f = time_f[i][:, None]
        idle = figures["idle_w"][i] if "idle_w" in figures else arrays.idle_w
        idle = np.where(np.isnan(idle), arrays.idle_w, idle)
        energy = (cost.energy_per_inference_j + (idle - arrays.idle_w)[:, None] * idle_slope) * f
        latency = cost.latency_s * f
        cost_i = replace(cost, latency_s=latency, energy_per_inference_j=energy, power_w=energy * b / latency,
                         compute_s=cost.compute_s * f, memory_s=cost.memory_s * f, launch_s=cost.launch_s * f)
        devs_i = [_with_figures(d, {k: v[i, j] for k, v in figures.items()}) for j, d in enumerate(devs)]
        cols = carbon_columns(spec, devs_i, batches, replace(arrays, idle_w=idle), cost_i,
                              settings.model_copy(update={"carbon": run.carbon}), run.dram_g_per_gb_factor)
        for m in metrics:
            out[m][i] = cols[m]
    drawn = [f"device file: {k}" for k in figures] + ([TIME_FACTOR_KEY] if TIME_FACTOR_KEY in tab.figure else [])
    not_applicable = tuple(k for k in tab.figure if k not in shared and k != TIME_FACTOR_KEY)
    return UncertainResult(
        total_carbon_kg=out["total_carbon_kg"], operational_kg=out["operational_kg"], embodied_kg=out["embodied_kg"],
        energy_per_inference_j=out["energy_per_inference_j"], area_mm2=np.full((n, n_designs), np.nan),
        leakage_w=np.full((n, n_designs), np.nan), latency_s=out["latency_s"], nominal=nominal, n_samples=n,
        seed=int(seed), keys=tuple(shared + drawn), skipped=not_applicable, latency_note=DEVICE_LATENCY_NOTE,
    )


__all__ = ["DEVICE_FIGURES", "DEVICE_SECTION", "evaluate_devices_uncertain", "figure_distribution"]
