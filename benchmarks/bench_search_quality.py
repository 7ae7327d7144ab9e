"""Search quality per fine-tune: hypervolume of nested, joint and random search at equal numbers of fine-tunes.

Runs the real search engine (Ax + BoTorch, the real cost model over the paper's 3,240-point accelerator grid) on
the CLIP ViT-B/16 pruning spaces, with the documented accuracy surrogate (`accuracy.task = "surrogate"`,
catransformers.search.surrogate) in place of fine-tuning, so a 100-fine-tune search takes minutes.

A "fine-tune" is a distinct pruned model scored (cache hits and infeasible proposals cost none). For each run we
replay its journal in trial order and take the hypervolume (paper's reference point) of the front of every design
evaluated up to the k-th fine-tune, k in BUDGETS. Strategies:
  nested  Ax proposes models; each is paired with the best feasible accelerators of an exhaustive sweep
  joint   the paper's: model and accelerator parameters in one Ax space (infeasible proposals: no fine-tune)
  random  quasi-random (Sobol) points of the joint space

    python benchmarks/bench_search_quality.py                   # modes carbon and all, 3 seeds, up to 100
    python benchmarks/bench_search_quality.py --modes carbon --seeds 1 --max 30   # a quick look
    python benchmarks/bench_search_quality.py --modes carbon --seeds 2 --max 20 --memory auto  # memory searched too
    python benchmarks/bench_search_quality.py --modes carbon --strategies nested --seeds 1 --max 16 --fused-logei

`--fused-logei` lets BoTorch JIT-compile and use its fused C++ qLogNEHVI kernel (the search itself always uses
the pure-PyTorch path, see `catransformers.search.optimizer.pure_pytorch_logei`), to compare wall time and HV.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from catransformers.report.pareto import hypervolume
from catransformers.search import config_from_dict, run_search
from catransformers.search.modes import get_mode
from catransformers.search.records import Status, TrialRecord

BUDGETS = (20, 30, 50, 100)
STRATEGIES = ("nested", "joint", "random")


def _config(mode: str, strategy: str, seed: int, max_finetunes: int, batch: int, restarts: int, raw: int,
            memory: list[str] | None = None) -> dict:
    # joint/random need more Ax trials than fine-tunes: infeasible and hardware-only proposals cost none
    trials = max_finetunes if strategy == "nested" else 3 * max_finetunes
    return {
        "model": {"id": "clip-vit-b-16"},
        "search": {"mode": mode, "strategy": strategy, "seed": seed, "trials": trials, "max_finetunes": max_finetunes,
                   "sobol_trials": 10, "batch_size": batch, "acqf_restarts": restarts, "acqf_raw_samples": raw},
        "accuracy": {"task": "surrogate"},
        "hardware": {"memory": memory} if memory else {},
    }


def hv_by_budget(trials: list[TrialRecord], mode_name: str, reference: dict[str, float],
                 budgets: tuple[int, ...]) -> dict:
    """Hypervolume of all designs evaluated up to the k-th fine-tune, for each k."""
    mode = get_mode(mode_name)
    names = [o.name for o in mode.objectives]
    ref = [reference[n] for n in names]
    maximize = [o.maximize for o in mode.objectives]
    points: list[list[float]] = []
    out: dict[int, float] = {}
    finetunes = 0
    for rec in sorted(trials, key=lambda r: r.trial):
        if rec.status is not Status.COMPLETED:
            continue
        if not rec.cached:
            finetunes += 1
        acc = rec.accuracy["score"]
        points += [[acc if n == "accuracy" else d[n] for n in names] for d in rec.designs]
        for k in budgets:
            if finetunes == k and k not in out:
                out[k] = hypervolume(np.array(points), ref, maximize)
    out["final"] = hypervolume(np.array(points), ref, maximize) if points else 0.0
    out["finetunes"] = finetunes
    return out


def run_one(mode: str, strategy: str, seed: int, max_finetunes: int, batch: int, restarts: int = 4,
            raw: int = 256, memory: list[str] | None = None) -> tuple[dict, float, int]:
    cfg = config_from_dict(_config(mode, strategy, seed, max_finetunes, batch, restarts, raw, memory))
    tmp = Path(tempfile.mkdtemp(prefix="catr-bench-"))
    try:
        t0 = time.perf_counter()
        out = run_search(cfg, tmp / "run")
        wall = time.perf_counter() - t0
        hv = hv_by_budget(out.trials, mode, out.info["reference_point"], BUDGETS)
        return hv, wall, out.info["trials"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="carbon,all")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--max", type=int, default=100, help="fine-tunes per run (the largest budget)")
    ap.add_argument("--batch", type=int, default=4, help="Ax candidates per generation")
    ap.add_argument("--restarts", type=int, default=4, help="qLogNEHVI optimiser restarts")
    ap.add_argument("--raw-samples", type=int, default=256, help="qLogNEHVI raw samples")
    ap.add_argument("--memory", default="", help="[hardware] memory, e.g. 'auto' (joint/random: Ax parameters)")
    ap.add_argument("--json", type=Path, help="also write the raw numbers here")
    ap.add_argument("--pure-logei", action="store_true", help="BoTorch's pure-PyTorch path, not its fused kernel")
    args = ap.parse_args()
    if args.pure_logei:
        from catransformers.search.kernel import prepare_logei_kernel

        prepare_logei_kernel(enabled=False)
    budgets = [b for b in BUDGETS if b <= args.max]
    results: dict[str, dict] = {}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for seed in seeds:  # seed outermost: a cut-short run still covers every mode and strategy
        for mode in args.modes.split(","):
            for strategy in args.strategies.split(","):
                hv, wall, n_trials = run_one(mode, strategy, seed, args.max, args.batch, args.restarts,
                                             args.raw_samples, [m for m in args.memory.split(",") if m])
                results[f"{mode}/{strategy}/{seed}"] = {"hv": hv, "wall_s": wall, "trials": n_trials}
                print(f"{mode:6s} {strategy:6s} seed {seed}: " + "  ".join(
                    f"HV@{k}={hv.get(k, float('nan')):.4g}" for k in budgets)
                    + f"  final HV {hv['final']:.4g} after {hv['finetunes']} fine-tunes"
                    + f" ({n_trials} trials, {wall:.0f} s)",
                    flush=True)
    print("\nmean (sd) hypervolume over seeds at equal numbers of fine-tunes, CLIP ViT-B/16 spaces, surrogate accuracy")
    print(f"{'mode':6s} {'strategy':8s} " + " ".join(f"{'@' + str(k):>16s}" for k in budgets))
    for mode in args.modes.split(","):
        for strategy in args.strategies.split(","):
            cells = []
            for k in budgets:
                vals = [results[f"{mode}/{strategy}/{s}"]["hv"].get(k, np.nan) for s in seeds
                        if f"{mode}/{strategy}/{s}" in results]
                cells.append(f"{np.nanmean(vals):.4g} ({np.nanstd(vals):.2g})")
            print(f"{mode:6s} {strategy:8s} " + " ".join(f"{c:>16s}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
