"""The trials table: one row per evaluated (model, hardware) design of a search, the report stage's input."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from catransformers.hardware.config import TEMPLATE_KEYS
from catransformers.models import PRUNE_KEYS, parse_prune
from catransformers.search.problem import MEMORY_COLUMNS, Problem
from catransformers.search.records import Status, TrialRecord

ACCURACY_COLUMNS = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "metric")
CARBON_COLUMNS = ("total_carbon_kg", "embodied_die_kg", "embodied_dram_kg", "embodied_kg", "operational_kg",
                  "latency_s", "energy_per_inference_j", "area_mm2", "tops", "fleet_total_carbon_kg")
DESIGN_COLUMNS = (*CARBON_COLUMNS, *TEMPLATE_KEYS, *MEMORY_COLUMNS)
TABLE_COLUMNS = ("trial", "design", "status", *ACCURACY_COLUMNS, *CARBON_COLUMNS, "bound", "feasible", *TEMPLATE_KEYS,
                 *MEMORY_COLUMNS)


def trials_table(trials: list[TrialRecord], problem: Problem) -> pd.DataFrame:
    """One row per evaluated (model, hardware) design: the report stage's input."""
    knob_cols = [f"{enc}.{knob}" for enc in problem.space for knob in PRUNE_KEYS]
    rows = []
    for rec in trials:
        if not rec.done:
            continue
        acc = rec.accuracy or {}
        prune_cols: dict[str, Any] = {}
        if rec.prune is not None:
            params = parse_prune(problem.spec, rec.prune)
            prune_cols = {f"{enc}.{knob}": getattr(p, knob) for enc, p in params.items() for knob in PRUNE_KEYS}
        for i, design in enumerate(rec.designs or [{}]):
            row: dict[str, Any] = {"trial": rec.trial, "design": i, "status": rec.status.value,
                                   "accuracy": _num(acc.get("score")), "accuracy_ci_low": _num(acc.get("score_ci_low")),
                                   "accuracy_ci_high": _num(acc.get("score_ci_high")), "metric": acc.get("metric")}
            row.update({k: design.get(k, math.nan) for k in DESIGN_COLUMNS})
            row["bound"] = design.get("bound")
            row["feasible"] = bool(design.get("feasible", False)) and rec.status is Status.COMPLETED
            row.update({k: prune_cols.get(k) for k in knob_cols})
            row.update({
                "prune": rec.prune, "params": acc.get("params"), "score_before_heal": acc.get("score_before_heal"),
                "n_items": acc.get("n_items"), "steps": acc.get("steps"),
                "wall_s": acc.get("wall_s") if not rec.cached else 0.0,
                "cached": bool(rec.cached), "error": rec.error,
                "strategy_hw": "fixed" if rec.hw is not None else "sweep",
            })
            rows.append(row)
    columns = [*TABLE_COLUMNS, *knob_cols, "prune", "params", "score_before_heal", "n_items", "steps", "wall_s",
               "cached", "error", "strategy_hw"]
    df = pd.DataFrame(rows, columns=columns)
    for col in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "total_carbon_kg", "latency_s",
                "energy_per_inference_j", "area_mm2", "tops"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["params"] = pd.to_numeric(df["params"], errors="coerce")
    return df


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)
