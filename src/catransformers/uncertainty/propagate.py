"""Propagate the uncertainty table through the cost model, vectorised over (samples x designs).

No figure of the table touches timing, so latency is one value per design, the same in every sample. Energy,
area and carbon are sums of products of per-design parts (from the cost stage) and per-sample figures:

    energy  = vector + mac(e_mac) + rf(e_rf) + (l2 + glb) x sram_energy_scale + dram x f_dram + leakage_w x latency
    leakage = sram_leak x S + logic_leak x (L + P x pe_area)
    area    = A + a_pe x pe_area + a_sram x sram_area_scale
    carbon  = area x die g/cm2 (fab CI, yield) + DRAM kg x f_g_per_gb / yield + energy x kg/J (CI, lifetime)

The mac and register-file parts are affine (the 32-bit accumulate and an explicit RF write energy do not move
with the draw), so one probe evaluation with both figures moved gives their slopes; the SRAM and DRAM parts are
proportional to their factors; leakage and area slopes come from `leakage_w` / `area_mm2` with fields zeroed or
moved. Per-sample scalars come from `settings_for_sample`, the same application of draws as the slow per-sample
path, and from the carbon model's own methods, so absolute-vs-factor semantics live in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from catransformers.carbon.model import CarbonSettings, embodied_dram_kg, operational_kg
from catransformers.cost import CostSettings, evaluate_designs, hardware_columns
from catransformers.errors import UserError
from catransformers.hardware import area_mm2, leakage_w
from catransformers.hardware.tech import Tech
from catransformers.models.spec import ModelSpec
from catransformers.uncertainty.apply import SampleSettings, settings_for_sample
from catransformers.uncertainty.sampler import (
    DEFAULT_QUANTILES,
    check_n,
    draw,
    prob_min,
    quantile_columns,
    rank_stability,
)
from catransformers.uncertainty.table import DistributionTable, load_table

if TYPE_CHECKING:
    import pandas as pd

# The figures the fast path decomposes exactly, tested against the slow path (any other setting would need its own
# part; e.g. hours_per_day would also move the duty-cycle check and an hourly-CSV intensity).
TECH_KEYS = ("mac_energy_pj", "rf_read_energy_pj", "sram_energy_scale", "sram_leak_mw_per_mb",
             "logic_leak_mw_per_mm2", "pe_area_um2", "sram_area_scale")
CARBON_KEYS = ("ci_g_per_kwh", "fab_ci_g_per_kwh", "fab_yield", "lifetime_years")
DRAM_KEYS = ("pj_per_bit", "g_per_gb")
SUPPORTED_KEYS = tuple(f"tech.{k}" for k in TECH_KEYS) + tuple(f"carbon.{k}" for k in CARBON_KEYS) + tuple(
    f"dram.{k}" for k in DRAM_KEYS)
METRICS = ("total_carbon_kg", "operational_kg", "embodied_kg", "energy_per_inference_j", "latency_s")
LATENCY_NOTE = "latency is fixed: no figure of the uncertainty table touches timing"
DEVICE_SECTION = "device."  # table keys that apply to bought devices only (catransformers.uncertainty.devices)

# Memory budget of the (samples x designs) float64 arrays (stated: half the 4 GB peak target of issue 8, the rest
# left to the process and the cost stage). Six arrays are kept (five results and the leakage power) and up to
# four temporaries live at once while they are built.
MAX_ARRAY_BYTES = 2 * 1024**3
ARRAYS_PER_CELL = 10
BYTES_PER_CELL = 8 * ARRAYS_PER_CELL


@dataclass(frozen=True)
class UncertainResult:
    """Cost-model results over N joint samples: arrays (samples x designs) and the nominal designs."""

    total_carbon_kg: np.ndarray
    operational_kg: np.ndarray
    embodied_kg: np.ndarray
    energy_per_inference_j: np.ndarray
    area_mm2: np.ndarray
    leakage_w: np.ndarray
    latency_s: np.ndarray  # (designs,): the same in every sample (LATENCY_NOTE); bought devices: (samples x designs)
    nominal: pd.DataFrame  # evaluate_designs at the given settings, one row per design
    n_samples: int
    seed: int
    keys: tuple[str, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)  # table keys naming no setting (change nothing)
    max_area_mm2: float | None = None
    latency_note: str = LATENCY_NOTE

    @property
    def n_designs(self) -> int:
        return int(self.total_carbon_kg.shape[1])

    def samples_of(self, metric: str) -> np.ndarray:
        """(samples x designs) array of `metric` (latency broadcast, read-only, no copy)."""
        if metric == "latency_s":
            return np.broadcast_to(self.latency_s, (self.n_samples, self.n_designs))  # a no-op when 2-D
        if metric not in METRICS and metric not in ("area_mm2", "leakage_w"):
            raise UserError(f"no uncertain metric '{metric}'; choose from {', '.join(METRICS)}, area_mm2, leakage_w")
        return getattr(self, metric)

    def prob_area_ok(self) -> np.ndarray:
        """Per design, the fraction of samples within the area cap (1 everywhere without a cap)."""
        if self.max_area_mm2 is None:
            return np.ones(self.n_designs)
        return ((self.area_mm2 <= self.max_area_mm2) | np.isnan(self.area_mm2)).mean(axis=0)  # NaN: a bought device


# ------------------------------------------------------------------------------------------------ checks


def max_samples(n_designs: int) -> int:
    """The most samples whose arrays fit MAX_ARRAY_BYTES for `n_designs` designs."""
    return max(0, MAX_ARRAY_BYTES // (BYTES_PER_CELL * max(1, n_designs)))


def check_samples(n: Any, n_designs: int) -> int:
    """`n` if it is a valid sample count whose arrays fit memory for `n_designs` designs, else UserError."""
    n = check_n(n)
    _check_memory(n, n_designs)
    return n


def _check_memory(n: int, n_designs: int) -> None:
    need = n * n_designs * BYTES_PER_CELL
    if need > MAX_ARRAY_BYTES:
        raise UserError(f"{n} uncertainty samples x {n_designs} designs need about {need / 1024**3:.1f} GB of arrays, "
                        f"over the {MAX_ARRAY_BYTES / 1024**3:g} GB limit: use at most {max_samples(n_designs)} "
                        "samples, or fewer designs")


def _check_keys(tab: DistributionTable, skipped: Iterable[str]) -> None:
    bad = [k for k in template_keys(tab) if k not in SUPPORTED_KEYS and k not in set(skipped)]
    if bad:
        raise UserError(f"the uncertainty table's '{bad[0]}' is not propagated (it would need its own cost part); "
                        f"remove it or use only {', '.join(SUPPORTED_KEYS)}")


# ------------------------------------------------------------------------------------------------ per-design parts


def _with(model: Any, **update: Any) -> Any:
    """A validated copy of a settings model with fields replaced."""
    return type(model).model_validate({**model.model_dump(), **update})


def _energy_parts(spec: ModelSpec, hw: dict[str, np.ndarray], settings: CostSettings,
                  nominal: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-design energy parts (J): fixed, mac/rf slopes (per pJ), SRAM and DRAM (proportional), latency."""
    tech = settings.tech
    col = lambda df, part: df[f"energy_{part}_j"].to_numpy(float)  # noqa: E731
    d_mac, d_rf = tech.mac_energy_pj, 1.0  # probe steps (pJ): double the MAC energy, +1 pJ per RF read
    probe_tech = _with(tech, mac_energy_pj=tech.mac_energy_pj + d_mac,
                       rf_read_energy_pj=tech.rf_read_energy_pj + d_rf)
    probe = evaluate_designs(spec, hw, settings.model_copy(update={"tech": probe_tech}))
    for c in ("latency_s", "energy_l2_j", "energy_glb_j", "energy_dram_j", "energy_vector_j", "energy_leakage_j"):
        if not np.array_equal(probe[c].to_numpy(), nominal[c].to_numpy()):
            raise RuntimeError(f"the MAC / register-file energies moved {c}: the cost model is no longer separable "
                               "as uncertainty/propagate.py assumes")
    a_mac = (col(probe, "mac") - col(nominal, "mac")) / d_mac
    a_rf = (col(probe, "register_file") - col(nominal, "register_file")) / d_rf
    return {
        # energy with the MAC and RF figures at zero (accumulate, explicit RF writes and vector ops stay)
        "fixed": (col(nominal, "vector") + col(nominal, "mac") - a_mac * tech.mac_energy_pj
                  + col(nominal, "register_file") - a_rf * tech.rf_read_energy_pj),
        "a_mac": a_mac, "a_rf": a_rf,
        "sram": col(nominal, "l2") + col(nominal, "glb"),
        "dram": col(nominal, "dram"),
        "latency": nominal["latency_s"].to_numpy(float),
    }


def _leak_parts(hw: dict[str, np.ndarray], tech: Tech) -> dict[str, np.ndarray]:
    """Leakage (W) per unit SRAM density (mW/MB), per unit logic density (mW/mm2) and its slope in PE area (um2)."""
    sram = leakage_w(hw, _with(tech, logic_leak_mw_per_mm2=0.0, sram_leak_mw_per_mb=1.0))
    logic = leakage_w(hw, _with(tech, logic_leak_mw_per_mm2=1.0, sram_leak_mw_per_mb=0.0))
    logic2 = leakage_w(hw, _with(tech, logic_leak_mw_per_mm2=1.0, sram_leak_mw_per_mb=0.0,
                                 pe_area_um2=2 * tech.pe_area_um2))
    per_pe = (logic2 - logic) / tech.pe_area_um2
    return {"sram": sram, "logic_fixed": logic - per_pe * tech.pe_area_um2, "logic_per_pe": per_pe}


def _area_parts(hw: dict[str, np.ndarray], tech: Tech) -> dict[str, np.ndarray]:
    """Area (mm2) with PE area and SRAM area scale at zero, and its slopes in each (separable, linear)."""
    base = area_mm2(hw, tech)
    per_pe = (area_mm2(hw, _with(tech, pe_area_um2=2 * tech.pe_area_um2)) - base) / tech.pe_area_um2
    per_sram = (area_mm2(hw, _with(tech, sram_area_scale=2 * tech.sram_area_scale)) - base) / tech.sram_area_scale
    return {"fixed": base - per_pe * tech.pe_area_um2 - per_sram * tech.sram_area_scale, "per_pe": per_pe,
            "per_sram": per_sram}


# ------------------------------------------------------------------------------------------------ per-sample figures


def _kg_per_j(carbon: CarbonSettings) -> float:
    """Lifetime operational kg per J of energy per inference (active use only), from the carbon model."""
    plain = carbon.model_copy(update={"include_idle": False})
    return float(operational_kg(np.ones(1), np.zeros(1), np.zeros(1), plain)["active_kg"][0])


def _sample_figures(runs: Sequence[SampleSettings], nodes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample scalars (length N) and the die g/cm2 per sample and node (N x nodes)."""
    t = lambda name: np.array([getattr(r.tech, name) for r in runs], dtype=float)  # noqa: E731
    return {name: t(name) for name in TECH_KEYS} | {
        "dram_pj_factor": np.array([r.dram_pj_per_bit_factor for r in runs]),
        "dram_gb_factor": np.array([r.dram_g_per_gb_factor for r in runs]),
        "fab_yield": np.array([r.carbon.fab_yield for r in runs]),
        "kg_per_j": np.array([_kg_per_j(r.carbon) for r in runs]),
        "die_g_per_cm2": np.array([[r.carbon.die_g_per_cm2(int(nd)) for nd in nodes] for r in runs]),
    }


# ------------------------------------------------------------------------------------------------ propagation


def evaluate_uncertain(spec: ModelSpec, hardware: Any, settings: CostSettings | None = None, n: int = 300,
                       seed: int = 0, table: DistributionTable | str | None = None,
                       nominal: pd.DataFrame | None = None) -> UncertainResult:
    """Evaluate `hardware` for `spec` under `n` joint samples (seeded Latin hypercube) of the uncertainty table.

    `table`: the shipped table (None), a loaded table or a TOML path. Same (spec, hardware, settings, n, seed,
    table) => the same arrays. Latency does not vary (LATENCY_NOTE); neither does feasibility except the area cap
    (`UncertainResult.prob_area_ok`). `nominal`: the caller's `evaluate_designs(spec, hardware, settings)` table,
    one row per design in order, when it already has it (a sweep, a search trial): not evaluated again.
    """
    settings = settings or CostSettings()
    n = check_n(n)
    hw = hardware_columns(hardware)
    n_designs = len(hw["clusters"])
    _check_memory(n, n_designs)
    tab = table if isinstance(table, DistributionTable) else load_table(table)
    keys = template_keys(tab)
    samples = draw(n, seed, tab, keys)  # validates the seed
    carbon = settings.carbon
    runs = [settings_for_sample(samples, i, settings.tech, carbon, tab) for i in range(n)]
    _check_keys(tab, runs[0].skipped)

    if nominal is None:
        nominal = evaluate_designs(spec, hw, settings)
    elif len(nominal) != n_designs:
        raise UserError(f"the nominal table has {len(nominal)} rows for {n_designs} designs")
    nominal = nominal.reset_index(drop=True)
    energy_p = _energy_parts(spec, hw, settings, nominal)
    leak_p = _leak_parts(hw, settings.tech)
    area_p = _area_parts(hw, settings.tech)
    nodes, node_idx = np.unique(np.asarray(hw["node_nm"]).astype(int), return_inverse=True)
    dram_kg_yield1 = embodied_dram_kg(hw["dram_type"], hw["dram_gb"], _with(settings.carbon, fab_yield=1.0))
    f = _sample_figures(runs, nodes)
    col = lambda x: np.asarray(x, dtype=float)[:, None]  # noqa: E731  per-sample scalars as a column

    leak = col(f["sram_leak_mw_per_mb"]) * leak_p["sram"]
    leak += col(f["logic_leak_mw_per_mm2"]) * leak_p["logic_fixed"]
    leak += col(f["logic_leak_mw_per_mm2"] * f["pe_area_um2"]) * leak_p["logic_per_pe"]

    energy = leak * energy_p["latency"]
    energy += energy_p["fixed"]
    energy += col(f["mac_energy_pj"]) * energy_p["a_mac"]
    energy += col(f["rf_read_energy_pj"]) * energy_p["a_rf"]
    energy += col(f["sram_energy_scale"] / settings.tech.sram_energy_scale) * energy_p["sram"]
    energy += col(f["dram_pj_factor"]) * energy_p["dram"]

    area = col(f["pe_area_um2"]) * area_p["per_pe"]
    area += col(f["sram_area_scale"]) * area_p["per_sram"]
    area += area_p["fixed"]

    # ACT die: area_cm2 x g/cm2 -> kg (mm2 / 100 = cm2, g / 1000 = kg)
    embodied = area * f["die_g_per_cm2"][:, node_idx] * 1e-5
    embodied += col(f["dram_gb_factor"] / f["fab_yield"]) * dram_kg_yield1

    operational = energy * col(f["kg_per_j"])
    if carbon.include_idle:  # idle power over the non-busy lifetime: rare option, one vectorised call per sample
        for i, run in enumerate(runs):
            operational[i] += operational_kg(energy[i], energy_p["latency"], leak[i], run.carbon)["idle_kg"]
    total = embodied + operational

    return UncertainResult(
        total_carbon_kg=total, operational_kg=operational, embodied_kg=embodied, energy_per_inference_j=energy,
        area_mm2=area, leakage_w=leak, latency_s=energy_p["latency"], nominal=nominal, n_samples=n, seed=int(seed),
        keys=tuple(keys), skipped=runs[0].skipped, max_area_mm2=settings.constraints.max_area_mm2,
    )


def template_keys(table: DistributionTable) -> list[str]:
    """The table's keys the accelerator template uses (`device.` keys are for bought devices only)."""
    return [k for k in table.figure if not k.startswith(DEVICE_SECTION)]


def combine(results: Sequence[UncertainResult]) -> UncertainResult:
    """Several results side by side as one (designs concatenated), e.g. the template's and the devices'.

    They must come from the same sample count and seed: the table's shared keys (grid intensity, yield,
    lifetime) then hold the same draw in each sample row, so their designs are compared under one assumption.
    """
    import pandas as pd

    first = results[0]
    if any(r.n_samples != first.n_samples or r.seed != first.seed for r in results):
        raise UserError("uncertainty results to combine need the same number of samples and the same seed")
    if len(results) == 1:
        return first
    stack = lambda name: np.concatenate([r.samples_of(name) for r in results], axis=1)  # noqa: E731
    notes = list(dict.fromkeys(r.latency_note for r in results))
    caps = [r.max_area_mm2 for r in results if r.max_area_mm2 is not None]
    return UncertainResult(
        total_carbon_kg=stack("total_carbon_kg"), operational_kg=stack("operational_kg"),
        embodied_kg=stack("embodied_kg"), energy_per_inference_j=stack("energy_per_inference_j"),
        area_mm2=stack("area_mm2"), leakage_w=stack("leakage_w"),
        latency_s=np.concatenate([np.array(r.samples_of("latency_s")) for r in results], axis=1),
        nominal=pd.concat([r.nominal for r in results], ignore_index=True, sort=False),
        n_samples=first.n_samples, seed=first.seed, keys=tuple(dict.fromkeys(k for r in results for k in r.keys)),
        skipped=tuple(k for k in first.skipped if all(k in r.skipped for r in results)),  # used by none
        max_area_mm2=min(caps) if caps else None, latency_note="; ".join(notes),
    )


def evaluate_sample_slow(spec: ModelSpec, hardware: Any, settings: CostSettings | None, samples: dict[str, np.ndarray],
                         i: int, table: DistributionTable | None = None) -> dict[str, np.ndarray]:
    """The reference: sample `i` applied to the settings and the whole cost model run again (one design row each).

    `dram.g_per_gb` has no setting, so its factor multiplies the DRAM embodied carbon here.
    """
    settings = settings or CostSettings()
    run = settings_for_sample(samples, i, settings.tech, settings.carbon, table)
    df = evaluate_designs(spec, hardware, settings.model_copy(update={"tech": run.tech, "carbon": run.carbon}))
    embodied = df["embodied_die_kg"].to_numpy() + df["embodied_dram_kg"].to_numpy() * run.dram_g_per_gb_factor
    operational = df["operational_kg"].to_numpy()
    return {"total_carbon_kg": embodied + operational, "operational_kg": operational, "embodied_kg": embodied,
            "energy_per_inference_j": df["energy_per_inference_j"].to_numpy(), "latency_s": df["latency_s"].to_numpy(),
            "area_mm2": df["area_mm2"].to_numpy(), "leakage_w": df["leakage_w"].to_numpy()}


# ------------------------------------------------------------------------------------------------ statistics


def _positions(result: UncertainResult, designs: Any) -> np.ndarray:
    """Design positions (0..designs-1) from None (all), a boolean mask or integer positions / index labels."""
    if designs is None:
        return np.arange(result.n_designs)
    idx = np.asarray(list(designs) if not isinstance(designs, np.ndarray) else designs)
    if idx.dtype == bool:
        if idx.shape != (result.n_designs,):
            raise UserError(f"a design mask needs {result.n_designs} entries, got {idx.size}")
        return np.flatnonzero(idx)
    if idx.size == 0:
        raise UserError("no designs given (an empty front?)")
    if not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= result.n_designs:
        raise UserError(f"design positions must be whole numbers 0..{result.n_designs - 1}, got {idx.tolist()[:5]}")
    return idx.astype(int)


def uncertain_quantiles(result: UncertainResult, qs: Iterable[float] = DEFAULT_QUANTILES,
                        metrics: Sequence[str] = METRICS) -> dict[str, np.ndarray]:
    """Quantile columns per design, e.g. total_carbon_kg_p05 / _p50 / _p95 (latency: the fixed value)."""
    qs = tuple(qs)
    out: dict[str, np.ndarray] = {}
    for metric in metrics:
        if metric == "latency_s" and result.latency_s.ndim == 1:  # constant over the samples: the value, exactly
            out |= {k: result.latency_s.copy() for k in quantile_columns(metric, result.latency_s[None, :], qs)}
        else:
            out |= quantile_columns(metric, result.samples_of(metric), qs)
    return out


def uncertainty_columns(designs_df: pd.DataFrame, result: UncertainResult,
                        qs: Iterable[float] = DEFAULT_QUANTILES) -> pd.DataFrame:
    """`designs_df` with the quantile columns of `result` (and `prob_area_ok`) added.

    Rows match by position when the table has one row per design of `result`; a subset (e.g. a front taken from
    a sweep's designs) matches by its index labels, which must be design positions.
    """
    cols = uncertain_quantiles(result, qs) | {"prob_area_ok": result.prob_area_ok()}
    if len(designs_df) == result.n_designs:
        pos = np.arange(result.n_designs)
    else:
        pos = _positions(result, designs_df.index.to_numpy())
    out = designs_df.copy()
    for name, values in cols.items():
        out[name] = values[pos]
    return out


def bands(result: UncertainResult, design: int = 0, qs: Iterable[float] = DEFAULT_QUANTILES) -> dict[str, Any]:
    """JSON-able quantiles of one design (what `estimate --uncertainty N` shows): {metric: {"p05": ..., ...}}."""
    d = int(_positions(result, [design])[0])
    q = uncertain_quantiles(result, qs)
    out: dict[str, Any] = {}
    for name, values in q.items():
        metric, label = name.rsplit("_", 1)
        out.setdefault(metric, {"nominal": float(result.nominal[metric].iloc[d])})[label] = float(values[d])
    return out | {"prob_area_ok": float(result.prob_area_ok()[d]), "samples": result.n_samples,
                  "seed": result.seed, "latency": result.latency_note}


def prob_min_carbon(result: UncertainResult, designs: Any = None) -> np.ndarray:
    """Probability that each of `designs` (positions; default all) has the least total carbon (sums to 1)."""
    return prob_min(result.total_carbon_kg[:, _positions(result, designs)])


def front_rank_stability(result: UncertainResult, designs: Any = None, reference: str = "nominal") -> float:
    """Mean Spearman correlation of each sample's total-carbon ranking of `designs` with the reference ranking.

    `reference`: "nominal" (the deterministic answer's ranking) or "median" (the per-design median).
    """
    pos = _positions(result, designs)
    if reference not in ("nominal", "median"):
        raise UserError(f"rank reference must be 'nominal' or 'median', got '{reference}'")
    ref = result.nominal["total_carbon_kg"].to_numpy(float)[pos] if reference == "nominal" else None
    return rank_stability(result.total_carbon_kg[:, pos], reference=ref)


def summary(result: UncertainResult, front_index: Any) -> dict[str, Any]:
    """JSON-able summary over a front: P(each design is min-carbon), rank stability, the nominal choice's odds."""
    pos = _positions(result, front_index)
    p = prob_min_carbon(result, pos)
    nominal = result.nominal["total_carbon_kg"].to_numpy(float)[pos]
    q = uncertain_quantiles(result, metrics=("total_carbon_kg",))
    nominal_best = int(np.argmin(nominal))
    area_ok = result.prob_area_ok()
    return {
        "samples": result.n_samples, "seed": result.seed, "table_keys": list(result.keys),
        "skipped_keys": list(result.skipped), "latency": result.latency_note,
        "front": [{"design": int(d), "nominal_total_carbon_kg": float(nominal[j]),
                   **{k: float(v[d]) for k, v in q.items()}, "prob_min_carbon": float(p[j]),
                   "prob_area_ok": float(area_ok[d])} for j, d in enumerate(pos)],
        "nominal_min_carbon_design": int(pos[nominal_best]),
        "prob_nominal_min_is_min": float(p[nominal_best]),
        "most_likely_min_carbon_design": int(pos[int(np.argmax(p))]),
        "rank_stability": front_rank_stability(result, pos, "nominal"),
        "rank_stability_reference": "Spearman vs the nominal total-carbon ranking, mean over samples",
    }
