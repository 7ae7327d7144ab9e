"""How much carbon the memory choice moves, and whether the min-carbon design survives the uncertainty.

For each model and usage, the min-carbon feasible design of the paper's grid with the paper's fixed 1 GB LPDDR3
against the same grid with the memory chosen per design (`memory = auto`: the smallest LPDDR3/4/4X/5/5X part
that holds the model, the next one up, on chip where it fits), then the P5/P50/P95 of the auto design's total
carbon and the probability that it stays the minimum over the front (uncertainty table, N samples).

    python benchmarks/bench_memory_choice.py [--samples 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from catransformers.cost import CostSettings, sweep_designs
from catransformers.hardware import HardwareSpace
from catransformers.models import get_model
from catransformers.report.tables import describe_hardware, describe_memory
from catransformers.uncertainty.propagate import evaluate_uncertain, summary

MODELS = ("minilm-l6", "tinyclip-39m-16", "clip-vit-b-16")
USAGES = {"paper (1/s, 6 h/day)": {}, "heavy (30/s, 24 h/day)": {"inferences_per_s": 30.0, "hours_per_day": 24.0}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(f"{'model':<16} {'usage':<23} {'1 GB LPDDR3 kg':>14} {'auto kg':>8} {'moved':>7}  auto design / memory; "
          f"P5-P50-P95 kg; P(stays min)")
    for usage, carbon in USAGES.items():
        settings = CostSettings(carbon=carbon)
        for model in MODELS:
            spec = get_model(model)
            t0 = time.perf_counter()
            fixed = sweep_designs(spec, HardwareSpace(), settings).best["min_carbon"]
            auto = sweep_designs(spec, HardwareSpace(memory=["auto"]), settings)
            best = auto.best["min_carbon"]
            unc = evaluate_uncertain(spec, auto.front, settings, a.samples, a.seed)
            s = summary(unc, list(range(len(auto.front))))
            pos = list(auto.front.index).index(best.name) if best.name in auto.front.index else 0
            entry = s["front"][pos]
            moved = best["total_carbon_kg"] / fixed["total_carbon_kg"] - 1
            print(f"{model:<16} {usage:<23} {fixed['total_carbon_kg']:>14.4f} {best['total_carbon_kg']:>8.4f} "
                  f"{moved * 100:>6.0f}%  {describe_hardware(best, compact=True)} {describe_memory(best)}; "
                  f"{entry['total_carbon_kg_p05']:.3f}-{entry['total_carbon_kg_p50']:.3f}-"
                  f"{entry['total_carbon_kg_p95']:.3f}; {entry['prob_min_carbon']:.2f} "
                  f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
