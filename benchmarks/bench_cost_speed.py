"""Speed of the cost model: the whole 3,240-point grid in one vectorised call vs. one config, and `sweep`.

Prints (same run, side by side): median of 5 for clip-vit-b-16 on the paper's grid (evaluate_designs, and the
raw hardware.estimate pass), median of 5 for a single-config evaluate_designs, and the wall time and peak RSS
of `catransformers sweep --model clip-vit-b-16` as a fresh process (process start included).
Targets on the 2-core dev machine (issue 2): grid <= 1 s, sweep <= 10 s, peak memory <= 2 GB.

    python benchmarks/bench_cost_speed.py [--model clip-vit-b-16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="clip-vit-b-16")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from catransformers.cost import CostSettings, evaluate_designs
    from catransformers.hardware import HardwareSpace, estimate, parse_hw
    from catransformers.models import get_model
    from catransformers.workload import build_workload

    spec = get_model(args.model)
    space = HardwareSpace()
    settings = CostSettings()
    config = parse_hw("clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2")
    grid = space.grid()
    work = build_workload(spec, settings.workload)
    evaluate_designs(spec, space, settings)  # warm-up (imports, caches)

    t_grid = _median_s(lambda: evaluate_designs(spec, space, settings), args.repeats)
    t_raw = _median_s(lambda: estimate(work, grid), args.repeats)
    t_one = _median_s(lambda: evaluate_designs(spec, config, settings), args.repeats)
    n = len(space)

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).with_name("catransformers")), "sweep", "--model", args.model,
               "--out", str(Path(tmp) / "sweep")]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True)
        t_sweep = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
        if res.returncode != 0:
            raise SystemExit(f"sweep failed: {res.stderr.strip()}")

    print(f"model {args.model}: {len(work)} operators, {work.total_macs() / 1e9:.2f} GMAC per inference")
    print(f"{'measurement':<52}{'seconds':>10}{'per config (us)':>18}")
    print(f"{f'evaluate_designs, {n} configs, one call (median of {args.repeats})':<52}{t_grid:>10.4f}"
          f"{t_grid / n * 1e6:>18.2f}")
    print(f"{f'hardware.estimate only, {n} configs (median of {args.repeats})':<52}{t_raw:>10.4f}"
          f"{t_raw / n * 1e6:>18.2f}")
    print(f"{f'evaluate_designs, 1 config (median of {args.repeats})':<52}{t_one:>10.4f}{t_one * 1e6:>18.2f}")
    print(f"{'grid call / single-config call':<52}{t_grid / t_one:>10.2f}x  (a per-config loop would be "
          f"{n * t_one:.1f} s)")
    print(f"{'catransformers sweep end to end (fresh process)':<52}{t_sweep:>10.2f}")
    print(f"{'sweep peak RSS (MB)':<52}{peak_mb:>10.0f}")
    print("ZigZag timing: see the validation benchmark (benchmarks/, ZigZag runs in its own dev venv)")


if __name__ == "__main__":
    main()
