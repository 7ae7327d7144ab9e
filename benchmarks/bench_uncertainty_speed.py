"""Speed and peak memory of `--uncertainty N` on a sweep: clip-vit-b-16, the paper's 3,240-point grid, N = 300.

Prints (one run, side by side, with `uptime` before and after): the median of 3 wall times of the whole job
(sweep_designs + evaluate_uncertain + the P5/P50/P95 columns + the front summary) and of each stage; the slow
per-sample path (the whole cost model once per sample) timed on a few samples and scaled to N; the largest
relative difference between the two on those samples; the peak RSS of the whole job in a fresh process
(imports included) next to that of the sweep alone; and the bands of every bought device at batch 1 and 8.
Target (issue 8): <= 10 s, peak memory <= 4 GB.

    python benchmarks/bench_uncertainty_speed.py [--model clip-vit-b-16] [--n 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

TARGET_S = 10.0
TARGET_PEAK_GB = 4.0


def _job(model: str, n: int, seed: int, uncertainty: bool = True) -> dict[str, float]:
    """One sweep with uncertainty; the seconds of each stage."""
    from catransformers.cost import CostSettings, sweep_designs
    from catransformers.hardware import HardwareSpace
    from catransformers.models import get_model
    from catransformers.uncertainty.propagate import evaluate_uncertain, summary, uncertainty_columns

    spec, settings = get_model(model), CostSettings()
    t0 = time.perf_counter()
    sweep = sweep_designs(spec, HardwareSpace(), settings)
    t1 = time.perf_counter()
    if not uncertainty:
        return {"sweep": t1 - t0}
    res = evaluate_uncertain(spec, sweep.designs, settings, n, seed, nominal=sweep.designs)  # as `sweep` does
    t2 = time.perf_counter()
    uncertainty_columns(sweep.designs, res)
    summary(res, sweep.front.index)
    t3 = time.perf_counter()
    return {"sweep": t1 - t0, "evaluate_uncertain": t2 - t1, "columns + summary": t3 - t2, "total": t3 - t0}


def _devices_seconds(model: str, n: int, repeats: int) -> float:
    """Median wall time of the bought devices' bands (catransformers.uncertainty.devices: one pass per sample)."""
    from catransformers.devices.evaluate import DeviceSettings
    from catransformers.models import get_model
    from catransformers.uncertainty.devices import evaluate_devices_uncertain

    spec, settings = get_model(model), DeviceSettings(batches=(1, 8))
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        evaluate_devices_uncertain(spec, "all", settings, n, 0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def _child_peak_mb(args: argparse.Namespace, uncertainty: bool) -> float:
    cmd = [sys.executable, __file__, "--once", "--model", args.model, "--n", str(args.n)]
    if not uncertainty:
        cmd.append("--no-uncertainty")
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"child run failed: {out.stderr.strip()}")
    return float(out.stdout.strip().splitlines()[-1])


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="clip-vit-b-16")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slow-samples", type=int, default=5, help="samples timed on the slow path")
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-uncertainty", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.once:  # child: one job, then its own peak RSS in MB (Linux reports KiB)
        _job(args.model, args.n, 0, not args.no_uncertainty)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return

    import numpy as np

    from catransformers.cost import CostSettings, sweep_designs
    from catransformers.hardware import HardwareSpace
    from catransformers.models import get_model
    from catransformers.uncertainty import draw
    from catransformers.uncertainty.propagate import evaluate_sample_slow, evaluate_uncertain

    print(f"before: {_uptime()}")
    _job(args.model, args.n, 0)  # warm-up (imports, caches)
    runs = [_job(args.model, args.n, 0) for _ in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    spec, settings = get_model(args.model), CostSettings()
    designs = sweep_designs(spec, HardwareSpace(), settings).designs
    res = evaluate_uncertain(spec, designs, settings, args.n, 0)
    samples = draw(args.n, 0)
    picks = np.linspace(0, args.n - 1, args.slow_samples).astype(int)
    t0 = time.perf_counter()
    worst = 0.0
    for i in picks:
        ref = evaluate_sample_slow(spec, designs, settings, samples, int(i))
        for key, want in ref.items():
            worst = max(worst, float(np.max(np.abs(res.samples_of(key)[i] - want) / np.abs(want))))
    slow_s = (time.perf_counter() - t0) / len(picks) * args.n
    peak_sweep = _child_peak_mb(args, uncertainty=False)
    peak_job = _child_peak_mb(args, uncertainty=True)
    print(f"after:  {_uptime()}")

    n_designs = len(designs)
    print(f"model {args.model}, {n_designs} designs x {args.n} samples ({n_designs * args.n / 1e6:.2f} M cells)")
    print(f"{'measurement':<58}{'seconds':>10}")
    for key in ("sweep", "evaluate_uncertain", "columns + summary", "total"):
        print(f"{f'{key} (median of {args.repeats})':<58}{med[key]:>10.3f}")
    print(f"{f'slow per-sample path, {len(picks)} samples timed, x {args.n}':<58}{slow_s:>10.1f}"
          f"   ({slow_s / med['evaluate_uncertain']:.0f}x the fast path)")
    print(f"{'max relative difference fast vs slow on those samples':<58}{worst:>10.1e}")
    print(f"{'peak RSS, sweep alone, fresh process (MB)':<58}{peak_sweep:>10.0f}")
    print(f"{'peak RSS, sweep + uncertainty, fresh process (MB)':<58}{peak_job:>10.0f}")
    dev_s = _devices_seconds(args.model, args.n, args.repeats)
    print(f"{f'devices: all 11 x batch 1, 8, N samples (median of {args.repeats})':<58}{dev_s:>10.3f}")
    ok_t, ok_m = med["total"] <= TARGET_S, peak_job / 1024 <= TARGET_PEAK_GB
    print(f"target: total <= {TARGET_S:g} s: {'met' if ok_t else 'MISSED'}; peak <= {TARGET_PEAK_GB:g} GB: "
          f"{'met' if ok_m else 'MISSED'}")


if __name__ == "__main__":
    main()
