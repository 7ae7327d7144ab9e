"""Per-fine-tune wall time of the offline default (MiniLM-L6, human-similarity, distillation heal), by phase.

Runs `evaluate_accuracy` (no result cache; importance and teacher targets cached after a warm-up run, as in a
search) for each pruned spec under each thread mode, interleaved, `--reps` times, and prints per-run and median
wall time, heal time, median step time, score and interval, with the machine load. Modes:

- ``1``: one torch thread;
- ``2-fixed``: two threads, no load cap and no spin-wait guard (the behaviour before issue 10's fix);
- ``auto``: the default (threads from the affinity set and the idle cores, spin-wait guard on).

    .venv/bin/python benchmarks/bench_finetune_time.py --modes 1 2-fixed auto --reps 3 [--base-steps 12 --cap 4]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from contextlib import contextmanager

SPECS = ("layers=4", "layers=3", "heads=8,ffn_blocks=10", "hidden_blocks=12")


@contextmanager
def mode(name: str):
    """Thread count for a mode, and (2-fixed) the pre-fix behaviour: no load cap, no spin-wait guard."""
    import catransformers.accuracy.evaluate as evaluate_mod
    import catransformers.accuracy.heal as heal_mod

    saved = evaluate_mod.resolve_threads, heal_mod.SPIN_GUARD_X
    if name == "2-fixed":
        evaluate_mod.resolve_threads, heal_mod.SPIN_GUARD_X = (lambda t: t), math.inf
    try:
        yield {"1": 1, "2-fixed": 2, "auto": 0}[name]
    finally:
        evaluate_mod.resolve_threads, heal_mod.SPIN_GUARD_X = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", nargs="+", default=["1", "2-fixed", "auto"], choices=["1", "2-fixed", "auto"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--specs", nargs="+", default=list(SPECS))
    ap.add_argument("--base-steps", type=int, default=None, help="default: the offline preset's")
    ap.add_argument("--cap", type=float, default=None, help="default: the offline preset's")
    args = ap.parse_args()

    from catransformers.accuracy import AccuracyRecipe, evaluate_accuracy

    preset = {"base_steps": 8, "budget_cap_x": 3.0}  # presets/offline_default.toml [accuracy]
    if args.base_steps is not None:
        preset["base_steps"] = args.base_steps
    if args.cap is not None:
        preset["budget_cap_x"] = args.cap
    cache = tempfile.mkdtemp(prefix="bench-ft-")
    t0 = time.perf_counter()
    evaluate_accuracy("minilm-l6", args.specs[0], AccuracyRecipe(**preset), cache, use_cache=False)
    print(f"warm-up (load, importance, teacher targets, one fine-tune): {time.perf_counter() - t0:.1f} s; "
          f"recipe {preset}", flush=True)
    rows: dict[tuple[str, str], list] = {}
    for rep in range(args.reps):
        for spec in args.specs:
            for name in args.modes:
                with mode(name) as threads:
                    r = evaluate_accuracy("minilm-l6", spec, AccuracyRecipe(threads=threads, **preset), cache,
                                          use_cache=False)
                rows.setdefault((spec, name), []).append(r)
                print(f"  rep {rep} {spec:24s} {name:7s} wall {r.wall_s:6.1f} s  heal {r.extra['heal_s']:6.1f} s  "
                      f"steps {r.steps:3d}  step {r.extra['step_s_median']:.3f} s  threads {r.extra['threads']}"
                      f"->{r.extra['threads_end']}  load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"\nmedians over {args.reps} reps (load now {os.getloadavg()[0]:.2f})")
    print(f"{'spec':24s} {'mode':7s} {'wall_s':>7s} {'heal_s':>7s} {'steps':>5s} {'step_s':>6s} {'score':>6s} 95% CI")
    for (spec, name), rs in rows.items():
        def med(key, rs=rs) -> float:
            return statistics.median(key(r) for r in rs)

        r = rs[0]
        print(f"{spec:24s} {name:7s} {med(lambda r: r.wall_s):7.1f} {med(lambda r: r.extra['heal_s']):7.1f} "
              f"{r.steps:5d} {med(lambda r: r.extra['step_s_median']):6.3f} {r.score:6.3f} "
              f"[{r.score_ci_low:.3f}, {r.score_ci_high:.3f}]")


if __name__ == "__main__":
    main()
