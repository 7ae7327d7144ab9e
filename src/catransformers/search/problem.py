"""The search problem: model, pruning space, hardware space, cost settings per mode, and design evaluation.

Everything deterministic lives here: pruning a spec, sweeping the hardware space through the cost model
(one vectorised `evaluate_designs` call per pruned model), checking constraints, and choosing the hardware of
the nested strategy. Fine-tunes never happen here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from catransformers.errors import UserError
from catransformers.hardware.config import (
    FIXED_DEFAULTS,
    HW_KEYS,
    TEMPLATE_KEYS,
    HardwareSpace,
    memory_technologies,
    tries_on_chip,
)
from catransformers.memory import MEMORY_PARTS, NO_MEMORY
from catransformers.models import (
    PRUNE_KEYS,
    EncoderPrune,
    ModelSpec,
    PruneParams,
    PruneSpace,
    format_prune,
    full_params,
    parse_prune,
    prune_spec,
    resolve_model,
)
from catransformers.report.pareto import pareto_mask
from catransformers.search.config import ExperimentConfig, prune_space
from catransformers.search.modes import DEFAULT_REFERENCE, Mode, get_mode

QUANTILE_COLUMNS = ("total_carbon_kg", "operational_kg", "embodied_kg", "energy_per_inference_j")
# What a design is beyond the template: its memory, its kind (template or bought device), and the nominal values
# when the objectives are quantiles.
MEMORY_COLUMNS = ("dram_type", "dram_gb", "dram_bw_gbps", "memory_candidate", "hardware_kind", "device", "batch",
                  *(f"{c}_nominal" for c in QUANTILE_COLUMNS))
COST_COLUMNS = ("latency_s", "energy_per_inference_j", "area_mm2", "tops", "embodied_die_kg", "embodied_dram_kg",
                "embodied_kg", "operational_kg", "total_carbon_kg", "fleet_total_carbon_kg", "bound", "feasible",
                *MEMORY_COLUMNS)


def design_row(row: pd.Series, checks: bool = True) -> dict[str, Any]:
    """One design as plain JSON-able values: template, cost and carbon columns and (with `checks`) the ok_ checks."""
    out: dict[str, Any] = {}
    for key in (*TEMPLATE_KEYS, *COST_COLUMNS):
        if key in row.index:
            v = row[key]
            out[key] = v.item() if hasattr(v, "item") else v
    if checks:
        out |= {key: bool(row[key]) for key in row.index if key.startswith("ok_")}
    return out


def _evaluate_designs(spec: ModelSpec, hardware: Any, settings: Any) -> pd.DataFrame:
    from catransformers.cost import evaluate_designs

    return evaluate_designs(spec, hardware, settings)


def cost_settings(cfg: ExperimentConfig, mode: Mode) -> Any:
    """The cost model's settings for this experiment; the latency cap applies only where latency is no objective."""
    from catransformers.settings import cost_settings as resolve_cost_settings

    sections = {"workload": cfg.workload.model_dump(), "tech": cfg.tech.model_dump(), "carbon": cfg.carbon.model_dump(),
                "cost": cfg.cost.model_dump(), "constraints": cfg.constraints.model_dump()}
    return resolve_cost_settings(sections, latency_capped=mode.latency_capped)


@dataclass
class Problem:
    """A resolved experiment: what varies, what is measured, and the settings to measure it."""

    cfg: ExperimentConfig
    spec: ModelSpec
    mode: Mode
    space: PruneSpace
    hw_space: HardwareSpace
    settings: Any
    reference: dict[str, float]

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> Problem:
        spec = resolve_model(cfg.model.id)
        mode = get_mode(cfg.search.mode, cfg.search.model_objective)
        hw = cfg.hardware.space()
        reference = {o.name: cfg.search.reference.get(o.name, DEFAULT_REFERENCE[o.name]) for o in mode.objectives}
        return cls(cfg, spec, mode, prune_space(cfg), hw, cost_settings(cfg, mode), reference)

    # -------------------------------------------------------------- parameters

    @property
    def model_knobs(self) -> list[tuple[str, str]]:
        """(encoder, knob) pairs that vary (ranges with more than one value)."""
        if not self.mode.search_model:
            return []
        return [(enc, knob) for enc, knobs in self.space.items() for knob in PRUNE_KEYS
                if len(knobs[knob].values()) > 1]

    @property
    def hw_values(self) -> dict[str, list]:
        """Template parameters that vary in the hardware space, with their values."""
        if not self.mode.search_hardware:
            return {}
        return {k: sorted(getattr(self.hw_space, k)) for k in TEMPLATE_KEYS if len(getattr(self.hw_space, k)) > 1}

    @property
    def memory_choices(self) -> list[str]:
        """What `hardware.memory` lets a design use: its DRAM technologies, and 'none' (on chip) where listed."""
        mem = self.hw_space.memory
        if not mem:
            return []
        on_chip = [NO_MEMORY] if tries_on_chip(mem) else []
        return [*on_chip, *memory_technologies(mem)]

    @property
    def memory_values(self) -> dict[str, list[str]]:
        """The memory choice as joint/random parameters: `memory` (technology or 'none') and `memory_part`
        (the smallest sold part that holds the pruned model, or the next one up); only those with a choice."""
        choices = self.memory_choices if self.mode.search_hardware else []
        out: dict[str, list[str]] = {}
        if len(choices) > 1:
            out["memory"] = choices
        if any(c != NO_MEMORY for c in choices):
            out["memory_part"] = list(MEMORY_PARTS)
        return out

    def prune_of(self, params: dict[str, Any]) -> PruneParams:
        """Pruning parameters from an Ax parameterization (`enc__knob` keys); fixed knobs at their only value."""
        if not self.mode.search_model:
            return parse_prune(self.spec, self.cfg.model.prune)
        full = full_params(self.spec)
        out: PruneParams = {}
        for enc, knobs in self.space.items():
            vals = {}
            for knob in PRUNE_KEYS:
                key = f"{enc}__{knob}"
                vals[knob] = int(params[key]) if key in params else knobs[knob].values()[-1]
            out[enc] = EncoderPrune(**vals)
        return out or full

    def prune_text(self, prune: PruneParams) -> str:
        return format_prune(self.spec, prune)

    # -------------------------------------------------------------- hardware evaluation

    def sweep(self, pruned: ModelSpec) -> pd.DataFrame:
        """Every hardware config of the space for one pruned model (one vectorised cost-model call), and every
        bought device of `hardware.devices` x batch size beside it (the same columns)."""
        if not self.mode.search_hardware:
            return self._at_quantile(pruned, self.fixed_design(pruned))
        hw = self.cfg.hardware
        parts = []
        if hw.template or not hw.devices:
            template = _evaluate_designs(pruned, self.hw_space, self.settings).assign(hardware_kind="template")
            parts.append(self._at_quantile(pruned, template))
        if hw.devices:
            parts.append(self._devices(pruned).assign(hardware_kind="device"))
        return pd.concat(parts, ignore_index=True, sort=False) if len(parts) > 1 else parts[0].reset_index(drop=True)

    def _devices(self, pruned: ModelSpec) -> pd.DataFrame:
        from catransformers.devices.evaluate import DeviceSettings, evaluate_devices

        s = self.settings
        ds = DeviceSettings(workload=s.workload, carbon=s.carbon, constraints=s.constraints,
                            batches=tuple(self.cfg.hardware.device_batches))
        names = "all" if self.cfg.hardware.devices == ["all"] else list(self.cfg.hardware.devices)
        if self.cfg.search.objective_quantile is None:
            return evaluate_devices(pruned, names, ds)
        from catransformers.uncertainty.devices import evaluate_devices_uncertain

        unc = evaluate_devices_uncertain(pruned, names, ds, self.cfg.search.uncertainty_samples, self.cfg.search.seed)
        return self._quantile_columns(unc.nominal, unc)  # its nominal table is evaluate_devices

    def _at_quantile(self, pruned: ModelSpec, designs: pd.DataFrame) -> pd.DataFrame:
        """With search.objective_quantile q: the carbon and energy columns become their q-quantile under the
        uncertainty table (nominal values kept as <column>_nominal), so the search ranks designs by it."""
        if self.cfg.search.objective_quantile is None or designs.empty:
            return designs
        from catransformers.uncertainty.propagate import evaluate_uncertain

        n, seed = self.cfg.search.uncertainty_samples, self.cfg.search.seed
        return self._quantile_columns(designs, evaluate_uncertain(pruned, designs, self.settings, n, seed,
                                                                  nominal=designs))

    def _quantile_columns(self, designs: pd.DataFrame, result: Any) -> pd.DataFrame:
        q = self.cfg.search.objective_quantile
        out = designs.copy()
        for col in QUANTILE_COLUMNS:
            out[f"{col}_nominal"] = out[col]
            out[col] = np.quantile(result.samples_of(col), q, axis=0)
        return out

    def proposed_design(self, pruned: ModelSpec, hw: dict[str, Any]) -> pd.DataFrame:
        """The one design a joint/random trial proposes, costed like a sweep's (objective quantile included)."""
        return self._at_quantile(pruned, self.fixed_design(pruned, hw))

    def fixed_design(self, pruned: ModelSpec, hw: dict[str, Any] | None = None) -> pd.DataFrame:
        """One hardware config: the fixed one of the model mode, or a trial's `hw` (template values and, with
        `hardware.memory`, its memory choice) on the space's fixed values."""
        from catransformers.cost import memory_choice
        from catransformers.hardware.config import HardwareConfig

        if hw is None:
            return _evaluate_designs(pruned, self.cfg.hardware.fixed, self.settings).reset_index(drop=True)
        base = {k: getattr(self.hw_space, k)[0] for k in HW_KEYS}
        if self.memory_choices:  # the space's dram_* lists are unused: the memory comes from the choice below
            base |= {k: FIXED_DEFAULTS[k] for k in ("dram_type", "dram_gb", "dram_channels", "dram_bw_gbps")}
        config = HardwareConfig(**(base | {k: hw[k] for k in TEMPLATE_KEYS if k in hw}))
        if not self.memory_choices:
            return _evaluate_designs(pruned, config, self.settings).reset_index(drop=True)
        memory = str(hw.get("memory", self.memory_choices[0]))
        config, label = memory_choice(pruned, config, memory, str(hw.get("memory_part", "smallest")), self.settings)
        designs = _evaluate_designs(pruned, config, self.settings)
        return designs.assign(memory_candidate=label).reset_index(drop=True)

    def baseline_design(self) -> dict[str, Any] | None:
        """The unpruned model's best hardware of the space for the mode's hardware objectives (payback reference)."""
        front = self.hw_front(self.sweep(self.spec))
        if front.empty:
            return None
        return design_row(front.iloc[0], checks=False)

    def hw_front(self, designs: pd.DataFrame) -> pd.DataFrame:
        """The feasible designs that are Pareto-optimal for the mode's hardware objectives (one model fixed).

        Sorted best first by the normalised sum of the objectives over the reference point; the first row is the
        representative reported to Ax.
        """
        ok = designs[designs["feasible"].astype(bool)]
        if ok.empty:
            return ok
        names = [o.name for o in self.mode.hw_objectives]
        values = ok[names].to_numpy(dtype=float)
        front = ok[pareto_mask(values, [False] * len(names), keep_duplicates=False)].copy()
        score = sum(front[n].to_numpy(dtype=float) / self.reference.get(n, DEFAULT_REFERENCE[n]) for n in names)
        return front.iloc[np.argsort(score, kind="stable")].reset_index(drop=True)

    def why_infeasible(self, designs: pd.DataFrame) -> str:
        """Which constraints rule out every design of `designs` (for the trials table)."""
        checks = [c for c in designs.columns if c.startswith("ok_")]
        failing = [c[3:] for c in checks if not designs[c].astype(bool).any()]
        if "dram_capacity" in failing and (designs["dram_type"] == NO_MEMORY).all():
            failing[failing.index("dram_capacity")] = "dram_capacity (on chip only: the weights do not fit the " \
                                                      "global buffer)"
        if failing:
            return "violates " + ", ".join(failing)
        return "no design meets every constraint at once (" + ", ".join(c[3:] for c in checks) + ")"

    def smallest_prune(self) -> PruneParams:
        """The most-pruned model of the space (its costs bound every other model's from below)."""
        if not self.mode.search_model:
            return parse_prune(self.spec, self.cfg.model.prune)
        return {enc: EncoderPrune(**{k: knobs[k].values()[0] for k in PRUNE_KEYS}) for enc, knobs in self.space.items()}

    def preflight(self) -> None:
        """Fail before writing anything if no design can be feasible or the reference point excludes all of them."""
        for name, value in self.reference.items():
            if not np.isfinite(value):
                raise UserError(f"reference point {name} = {value} is not a finite number; set "
                                f"search.reference.{name} to a finite value")
        small = prune_spec(self.spec, self.smallest_prune())
        designs = self.sweep(small)
        ok = designs[designs["feasible"].astype(bool)]
        if ok.empty:
            raise UserError(f"no accelerator of the space meets the constraints even for the smallest model "
                            f"({self.prune_text(self.smallest_prune())}): {self.why_infeasible(designs)}; relax "
                            "[constraints] or widen [hardware]")
        for obj in self.mode.objectives:
            if obj.maximize or obj.name not in ok.columns:
                continue
            best = float(ok[obj.name].min())
            if best >= self.reference[obj.name]:
                raise UserError(
                    f"reference point {obj.name} = {self.reference[obj.name]:g} excludes every design (the smallest "
                    f"achievable is {best:.4g}); raise search.reference.{obj.name}")
