"""Validate the systolic GEMM timing against SCALE-Sim v3 results stored in benchmarks/fixtures/scalesim_v3.json.

Runs with the package venv only (no SCALE-Sim import):  python benchmarks/bench_validate_scalesim.py
Stall-free cases must match exactly; bandwidth-limited totals are reported with their error (aim: within 15 %).
The fixture is regenerated with benchmarks/oracles/gen_scalesim_fixture.py in the dev-only oracle venv.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from catransformers.hardware import bandwidth_limited_gemm_cycles, gemm_cycles

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "scalesim_v3.json"
TARGET_REL_ERR = 0.15  # issue 2, part 7: aim for bandwidth-limited totals within 15 %

NOTES = """\
What differs between SCALE-Sim v3 (USER bandwidth mode) and our bandwidth-limited rule:
 1. Interfaces: SCALE-Sim gives ifmap, filter and ofmap each their own DRAM interface of the stated words/cycle
    (IfmapSRAMBankBandwidth, FilterSRAMBankBandwidth, Bandwidth); ours has one shared interface. We pass the
    per-interface value as `bw_bytes_per_cycle` (the column 'ours'); 'ours x3' passes the aggregate 3x.
 2. Traffic: SCALE-Sim's read buffers are half active / half prefetch and fetch in one fixed operand order; when
    an operand does not fit its active half, a miss makes it cycle through prefetch chunks, so DRAM reads reach
    many times the operand size (column 'ss traffic/compulsory'). In WS it also writes every K-fold's partial
    sums to DRAM (ceil(K/rows) x M x N words), where we write outputs once (accumulated on chip). Ours counts
    traffic analytically with the better of two loop orders and SRAM-resident reuse.
 3. Timing: where reads thrash, SCALE-Sim's total is close to max(compute, busiest read link's DRAM words / bw)
    (column 'ss read-bound' = that / SCALE-Sim total), i.e. our timing rule applied to its much larger traffic.
    Output writes (incl. per-fold partial sums) drain through a write buffer and stall only when it fills.
    'Total Cycles' excludes the initial fill of the active buffers (prefetched before cycle 0, up to half of
    each SRAM), so when operands fit the SRAMs SCALE-Sim shows few or no stalls even where traffic / bandwidth
    exceeds compute; ours charges all traffic plus the first fold's fetch.
    Its read-stall accounting adds each positive stall twice (scalesim/memory/read_buffer.py, non-layout
    path of service_reads, lines 362-364 in 3.0.0).
 4. Where operands fit their SRAMs (the last cases), ours with the aggregate bandwidth ('ours x3') is within a
    few percent; the large gaps are SCALE-Sim's buffer policy (re-fetch, partial-sum spills), not the compute
    model (stall-free cycles match exactly).
"""


def _case_label(c: dict) -> str:
    return f"{c['source'].split('/')[0][:14]}:{c['source'].split('/')[-1][:6]}:{c['layer']}"


def stall_free(cases: list[dict]) -> int:
    """Print stall-free SCALE-Sim vs ours; return the number of exact matches."""
    print(f"{'case':44s} {'m x k x n':>16s} {'array':>7s} {'df':>3s} {'scalesim':>10s} {'ours':>10s} {'diff':>6s}")
    exact = 0
    for c in cases:
        ours = gemm_cycles(c["m"], c["k"], c["n"], c["rows"], c["cols"], c["dataflow"], double_buffered=False)
        diff = ours - c["scalesim_total_cycles"]
        exact += diff == 0
        print(f"{_case_label(c):44s} {c['m']:>4d}x{c['k']:>5d}x{c['n']:>5d} {c['rows']:>3d}x{c['cols']:<3d} "
              f"{c['dataflow']:>3s} {c['scalesim_total_cycles']:>10,d} {ours:>10,d} {diff:>6d}")
    return exact


def bandwidth_limited(cases: list[dict]) -> tuple[list[float], list[float], list[float]]:
    """Print bandwidth-limited SCALE-Sim vs ours with diagnostics; return errors (per-link, x3) and traffic ratios."""
    print(f"{'case':40s} {'m x k x n':>15s} {'array':>7s} {'df':>3s} {'B/cyc':>5s} {'sram KB':>12s} "
          f"{'scalesim':>10s} {'ours':>9s} {'err':>7s} {'ours x3':>9s} {'err':>7s} {'ss read-bound':>15s} "
          f"{'ss traffic/compulsory':>21s}")
    errors, errors3, traffic_x = [], [], []
    for c in cases:
        bw, sram = c["bandwidth"], tuple(c["sram_kb"])
        ss = c["scalesim_total_cycles"]
        ours = bandwidth_limited_gemm_cycles(c["m"], c["k"], c["n"], c["rows"], c["cols"], c["dataflow"], bw, sram)
        ours3 = bandwidth_limited_gemm_cycles(c["m"], c["k"], c["n"], c["rows"], c["cols"], c["dataflow"], 3 * bw,
                                              sram)
        err, err3 = ours / ss - 1, ours3 / ss - 1
        errors.append(err)
        errors3.append(err3)
        links = [c.get(f"scalesim_dram_{x}") for x in ("ifmap_reads", "filter_reads", "ofmap_writes")]
        if None in links:
            busiest, traffic = "n/a", "n/a"
        else:
            compute = ss - c["scalesim_stall_cycles"]
            busiest = f"{max(compute, max(links[:2]) / bw) / ss:.2f}"
            compulsory = c["m"] * c["k"] + c["k"] * c["n"] + c["m"] * c["n"]
            traffic_x.append(sum(links) / compulsory)
            traffic = f"{traffic_x[-1]:.1f}x"
        print(f"{_case_label(c):40s} {c['m']:>4d}x{c['k']:>4d}x{c['n']:>5d} {c['rows']:>3d}x{c['cols']:<3d} "
              f"{c['dataflow']:>3s} {bw:>5d} {'/'.join(map(str, sram)):>12s} {ss:>10,d} {ours:>9,.0f} {err:>+7.1%} "
              f"{ours3:>9,.0f} {err3:>+7.1%} {busiest:>15s} {traffic:>21s}")
    return errors, errors3, traffic_x


def _summary(label: str, errors: list[float]) -> None:
    abs_err = [abs(e) for e in errors]
    within = sum(e <= TARGET_REL_ERR for e in abs_err)
    print(f"{label:57s} |error| median {statistics.median(abs_err):6.1%}, max {max(abs_err):6.1%}, "
          f"within {TARGET_REL_ERR:.0%}: {within} / {len(errors)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, default=FIXTURE)
    args = ap.parse_args()
    doc = json.loads(args.fixture.read_text())
    cases = doc["cases"]
    free = [c for c in cases if c["bandwidth"] is None]
    limited = [c for c in cases if c["bandwidth"] is not None]
    print(f"SCALE-Sim {doc['scalesim_version']} fixture: {len(cases)} cases ({len(free)} stall-free, "
          f"{len(limited)} bandwidth-limited), generated {doc['generated_utc']}\n")

    print("== stall-free (InterfaceBandwidth CALC): gemm_cycles(..., double_buffered=False) ==")
    exact = stall_free(free)
    print(f"\nexact matches: {exact} / {len(free)}\n")

    print("== bandwidth-limited (InterfaceBandwidth USER): bandwidth_limited_gemm_cycles ==")
    errors, errors3, traffic_x = bandwidth_limited(limited)
    print()
    _summary("ours (bw = SCALE-Sim per-interface value):", errors)
    _summary("ours x3 (bw = aggregate of its 3 interfaces):", errors3)
    if len(traffic_x) == len(errors):
        modest = [i for i, t in enumerate(traffic_x) if t <= 4.0]
        if modest:
            _summary("ours x3, cases where SCALE-Sim traffic <= 4x compulsory:", [errors3[i] for i in modest])
    print()
    print(NOTES)


if __name__ == "__main__":
    main()
