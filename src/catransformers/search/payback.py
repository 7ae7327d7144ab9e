"""Carbon payback of a search: the lifetime carbon its chosen design saves over a fleet, against what it emitted.

The reference is the unpruned model on its own minimum-carbon hardware of the same space (the best the search
could do without pruning). The chosen design is the front's minimum-carbon design whose accuracy is within noise
of the unpruned model's (at least the lower end of its 95 % interval); if no front design reaches that, the
payback is not defined and the summary says why.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def carbon_payback(front: pd.DataFrame, baseline: dict[str, Any] | None, footprint: dict[str, Any] | None,
                   fleet_size: int) -> dict[str, Any] | None:
    """Savings per device and per fleet, the search's footprint and their ratio (None when not applicable)."""
    if not baseline or "design" not in baseline or front.empty or "accuracy" not in front.columns:
        return None
    ref_kg = _num(baseline["design"].get("total_carbon_kg"))
    floor = _num(baseline.get("score_ci_low", baseline.get("score")))
    if not math.isfinite(ref_kg) or not math.isfinite(floor):
        return None
    out: dict[str, Any] = {"reference": "unpruned model on its own min-carbon hardware",
                           "reference_total_carbon_kg": ref_kg, "accuracy_floor": floor, "fleet_size": fleet_size}
    ok = front[pd.to_numeric(front["accuracy"], errors="coerce") >= floor]
    if ok.empty:
        return out | {"chosen": None, "note": "no front design is within noise of the unpruned model's accuracy"}
    best = ok.sort_values("total_carbon_kg", kind="stable").iloc[0]
    saved = ref_kg - float(best["total_carbon_kg"])
    emitted = _num((footprint or {}).get("emissions_kg"))
    out |= {"chosen": {"trial": int(best["trial"]), "accuracy": float(best["accuracy"]),
                       "total_carbon_kg": float(best["total_carbon_kg"])},
            "saved_kg_per_device": saved, "saved_kg_fleet": saved * fleet_size}
    if math.isfinite(emitted) and emitted > 0:
        out |= {"search_emissions_kg": emitted, "payback_ratio": saved * fleet_size / emitted,
                "devices_to_pay_back": emitted / saved if saved > 0 else None}
    return out


def payback_text(payback: dict[str, Any] | None) -> str | None:
    """One sentence for the CLI and the report."""
    if not payback:
        return None
    if payback.get("chosen") is None:
        return f"carbon payback: not defined ({payback.get('note')})"
    fleet = payback["fleet_size"]
    devices = f"{fleet:,} device{'s' if fleet != 1 else ''}"
    chosen = (f"the min-carbon design within noise of the unpruned model (trial {payback['chosen']['trial']})")
    saved = payback["saved_kg_per_device"]
    if saved <= 0:  # the search found nothing better than the unpruned model on its own best hardware
        text = (f"carbon payback: none; {chosen} emits {-saved * 1e3:.3g} g more per device over its lifetime than "
                f"the unpruned model on its own best hardware ({-payback['saved_kg_fleet']:.4g} kg more over "
                f"{devices})")
        if "payback_ratio" in payback:
            text += f", on top of the {payback['search_emissions_kg'] * 1e3:.3g} g the search emitted"
        return text
    text = (f"carbon payback: {chosen} saves {saved * 1e3:.3g} g per device over its lifetime against the unpruned "
            f"model on its own best hardware, {payback['saved_kg_fleet']:.4g} kg over {devices}")
    if "payback_ratio" in payback:
        text += (f"; the search emitted {payback['search_emissions_kg'] * 1e3:.3g} g, so it pays back "
                 f"{payback['payback_ratio']:.3g}x")
        if payback.get("devices_to_pay_back"):
            text += f" (break-even at {payback['devices_to_pay_back']:.3g} devices)"
    return text
