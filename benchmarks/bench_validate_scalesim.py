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
from catransformers.hardware.scalesim_policy import scalesim_traffic

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "scalesim_v3.json"
TARGET_REL_ERR = 0.15  # issue 2, part 7: aim for bandwidth-limited totals within 15 %

NOTES = """\
What differs between SCALE-Sim v3 (USER bandwidth mode) and our two buffer policies:
 'ideal' (the estimator's default) tiles for reuse: one shared interface, each operand fetched about once (better
    of two loop orders, SRAM-resident reuse), outputs written once, plus the first fold's fetch. It is an optimistic
    bound on what a well-scheduled accelerator needs, so it sits far below SCALE-Sim wherever SCALE-Sim thrashes.
 'scalesim' models SCALE-Sim's own memory system (catransformers.hardware.scalesim_policy):
  1. Links: ifmap, filter and ofmap each have their own DRAM link of the stated words/cycle.
  2. Reads: each operand is a ring of hash lines (SRAM/100 words) in a fixed fetch order; the active window is
     half the SRAM and slides by the prefetch half on a miss, each slide reading a full half from DRAM. An operand
     that fits the active half is read once; a bigger one is re-read every pass, and a demand stepping back past
     the window (WS filter blocks load last row first; OS filter slabs are re-read per row fold) sends the window
     round the whole ring: 8-35x the compulsory traffic (column 'ss traffic/compulsory').
  3. Writes: WS writes every reduction fold's partial sums (ceil(K/rows) x M x N words), OS the outputs once;
     drains start at half-full and stall only when the buffer is full.
  4. Timing: each link streams prefetches back to back; a demand waits for its prefetch, with SCALE-Sim's
     accounting (a late prefetch's shortfall is added twice, an early one's slack subtracted within a cycle:
     scalesim/memory/read_buffer.py service_reads, 3.0.0). Total = max(compute + read stalls, write link time);
     the first fill of the active halves happens before cycle 0 and is excluded, as in 'Total Cycles'.
 Column 'traffic ours/ss' compares the modelled ifmap/filter DRAM reads with SCALE-Sim's counts.
 Cases marked 'held-out' were generated after the model was written (gen_scalesim_fixture.py --append-extra).
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


def _policy_cycles(c: dict, policy: str, bw_scale: float = 1.0) -> float:
    return bandwidth_limited_gemm_cycles(c["m"], c["k"], c["n"], c["rows"], c["cols"], c["dataflow"],
                                         bw_scale * c["bandwidth"], tuple(c["sram_kb"]), buffer_policy=policy)


def bandwidth_limited(cases: list[dict], held_out: set[int]) -> dict[str, list[float]]:
    """Print bandwidth-limited SCALE-Sim vs both policies with traffic diagnostics; return errors per column."""
    print(f"{'case':40s} {'m x k x n':>15s} {'array':>7s} {'df':>3s} {'B/cyc':>5s} {'sram KB':>12s} "
          f"{'scalesim':>10s} {'ideal':>9s} {'err':>7s} {'ideal x3':>9s} {'err':>7s} {'scalesim-pol':>12s} {'err':>7s} "
          f"{'traffic ours/ss':>15s} {'ss traffic/compulsory':>21s} {'set':>8s}")
    errs: dict[str, list[float]] = {"ideal": [], "ideal x3": [], "scalesim": []}
    for i, c in enumerate(cases):
        ss = c["scalesim_total_cycles"]
        ideal, ideal3, pol = _policy_cycles(c, "ideal"), _policy_cycles(c, "ideal", 3.0), _policy_cycles(c, "scalesim")
        for key, val in (("ideal", ideal), ("ideal x3", ideal3), ("scalesim", pol)):
            errs[key].append(val / ss - 1)
        words = tuple(int(kb * 1024) for kb in c["sram_kb"])
        tr = scalesim_traffic(c["m"], c["k"], c["n"], c["rows"], c["cols"], c["dataflow"], c["bandwidth"], words,
                              gemm_cycles(c["m"], c["k"], c["n"], c["rows"], c["cols"], c["dataflow"]))
        links = [c.get(f"scalesim_dram_{x}") for x in ("ifmap_reads", "filter_reads", "ofmap_writes")]
        if None in links:
            match, traffic = "n/a", "n/a"
        else:
            match = f"{tr.ifmap_dram_words / links[0]:.3f}/{tr.filter_dram_words / links[1]:.3f}"
            compulsory = c["m"] * c["k"] + c["k"] * c["n"] + c["m"] * c["n"]
            traffic = f"{sum(links) / compulsory:.1f}x"
        print(f"{_case_label(c):40s} {c['m']:>4d}x{c['k']:>4d}x{c['n']:>5d} {c['rows']:>3d}x{c['cols']:<3d} "
              f"{c['dataflow']:>3s} {c['bandwidth']:>5d} {'/'.join(map(str, c['sram_kb'])):>12s} {ss:>10,d} "
              f"{ideal:>9,.0f} {errs['ideal'][-1]:>+7.1%} {ideal3:>9,.0f} {errs['ideal x3'][-1]:>+7.1%} "
              f"{pol:>12,.0f} {errs['scalesim'][-1]:>+7.1%} {match:>15s} {traffic:>21s} "
              f"{'held-out' if i in held_out else 'fit':>8s}")
    return errs


def _summary(label: str, errors: list[float]) -> None:
    abs_err = [abs(e) for e in errors]
    within = sum(e <= TARGET_REL_ERR for e in abs_err)
    print(f"{label:62s} |error| median {statistics.median(abs_err):6.1%}, max {max(abs_err):6.1%}, "
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

    print("== bandwidth-limited (InterfaceBandwidth USER): bandwidth_limited_gemm_cycles, both buffer policies ==")
    n_appended = sum(a["cases"] for a in doc.get("appended", []))  # appended after the model: held out
    late = {id(c) for c in cases[len(cases) - n_appended:]} if n_appended else set()
    held_out = {i for i, c in enumerate(limited) if id(c) in late}
    errs = bandwidth_limited(limited, held_out)
    print(f"\nstall-free exact matches: {exact} / {len(free)}")
    _summary("ideal    (bw = SCALE-Sim per-interface value, shared):", errs["ideal"])
    _summary("ideal x3 (bw = aggregate of its 3 interfaces):", errs["ideal x3"])
    _summary("scalesim (one link per operand, SCALE-Sim fetch policy):", errs["scalesim"])
    if held_out:
        fit = [i for i in range(len(limited)) if i not in held_out]
        _summary("ideal, first cases only (those the model was written from):", [errs["ideal"][i] for i in fit])
        _summary("scalesim, first cases only:", [errs["scalesim"][i] for i in fit])
        _summary("scalesim, held-out cases only:", [errs["scalesim"][i] for i in sorted(held_out)])
        _summary("ideal, held-out cases only:", [errs["ideal"][i] for i in sorted(held_out)])
    print()
    print(NOTES)


if __name__ == "__main__":
    main()
