"""Systolic-array GEMM timing and the per-level traffic / stall rule shared by the estimator.

Closed forms of SCALE-Sim v3 (Samajdar et al.), stall-free, R = rows (array depth), C = columns (width):
weight-stationary  ceil(K/R) * ceil(N/C) * (2R + M + C - 2) - 1  (R cycles weight load per fold, then M rows
                   stream through with R + C - 2 skew);
output-stationary  ceil(M/R) * ceil(N/C) * (K + R + C - 2) - 1.
Double-buffered WS (the estimator's default) loads the next fold's weights during the current fold, so only
the first fold pays the R-cycle load: ceil(K/R) * ceil(N/C) * (R + M + C - 2) + R - 1. OS has no preload to
overlap; `double_buffered` does not change it.

Timing modes (`array_cycles(..., timing=)`), F folds of one GEMM, S = streaming cycles of a fold (WS: M input
rows; OS: K reduction steps), L = the operand preload of a fold (WS: R weight rows; OS: none beyond the stream):
- "scalesim": fold by fold as SCALE-Sim v3 counts, nothing overlaps between folds (the closed forms above; with
  `double_buffered` the WS weight preload of every fold after the first is hidden). Exact against SCALE-Sim.
- "pipelined": folds streamed back to back. The next fold's weights load into the PEs' second weight register
  while the current fold streams (WS), and its first input row enters the array the cycle after the current fold's
  last row: the pipeline fill/drain skew (R + C - 2) and the first preload are paid once per GEMM pass; each
  further fold costs max(S, R) (a fold shorter than the R-cycle weight load waits for it). WS:
  2R + M + C - 3 + (F - 1) max(M, R); OS (outputs drained through a second register set while the next tile
  accumulates): K + R + C - 3 + (F - 1) max(K, R). A single fold equals "scalesim".
- "ideal": MACs / active PEs (no fill, drain, preload nor fold padding), the paper's released flow; active PEs =
  min(R, K) x min(C, N) in WS, min(R, M) x min(C, N) in OS.
Bandwidth stalls, the multi-cluster split and vector ops are added by the estimator in every mode.

`bandwidth_limited_gemm_cycles` takes a `buffer_policy`: "ideal" (default, the estimator's own tiling) or
"scalesim" (SCALE-Sim v3's double-buffered fetch policy, see scalesim_policy.py; for validating against it).
"""

from __future__ import annotations

import numpy as np

from catransformers.errors import UserError
from catransformers.hardware.scalesim_policy import scalesim_traffic

DATAFLOWS = ("ws", "os")
BUFFER_POLICIES = ("ideal", "scalesim")
TIMINGS = ("scalesim", "pipelined", "ideal")
# Default: folds streamed back to back, as shipped weight-stationary arrays do: the TPU v1 double-buffers its weight
# tile to hide the 256 cycles of shifting the next one in (Jouppi et al., ISCA 2017, sec. 2), and each Gemmini PE
# has two registers swapped by a `propagate` bit: in WS one holds the weight in use while the next is preloaded,
# in OS one accumulates while the other drains (Genc et al., DAC 2021; ucb-bar/gemmini src/main/scala/gemmini/PE.scala).
DEFAULT_TIMING = "pipelined"


def _check_dataflow(dataflow: str) -> str:
    df = dataflow.lower()
    if df not in DATAFLOWS:
        raise UserError(f"unknown dataflow '{dataflow}'; allowed: ws (weight-stationary), os (output-stationary)")
    return df


def check_timing(timing: str) -> str:
    """The timing mode in lower case, or UserError listing the modes."""
    t = str(timing).lower()
    if t not in TIMINGS:
        raise UserError(f"unknown timing mode '{timing}'; allowed: scalesim (fold by fold, exact vs SCALE-Sim), "
                        "pipelined (folds streamed back to back), ideal (MACs / active PEs)")
    return t


def array_cycles(m, k, n, rows, cols, dataflow: str = "ws", double_buffered: bool = False,
                 timing: str = "scalesim"):
    """Vectorised stall-free cycles of an M x K x N GEMM on a rows x cols array (numpy broadcasting).

    `timing` is one of TIMINGS (module doc); `double_buffered` only changes "scalesim" (WS weight preload hidden).
    """
    df = _check_dataflow(dataflow)
    mode = check_timing(timing)
    m, k, n = (np.asarray(x, dtype=float) for x in (m, k, n))
    r, c = np.asarray(rows, dtype=float), np.asarray(cols, dtype=float)
    if mode == "ideal":
        reduce_or_rows = k if df == "ws" else m
        return m * k * n / (np.minimum(r, reduce_or_rows) * np.minimum(c, n))
    if mode == "pipelined":
        if df == "ws":
            folds = np.ceil(k / r) * np.ceil(n / c)
            return 2 * r + m + c - 3 + (folds - 1) * np.maximum(m, r)
        folds = np.ceil(m / r) * np.ceil(n / c)
        return k + r + c - 3 + (folds - 1) * np.maximum(k, r)
    if df == "ws":
        folds = np.ceil(k / r) * np.ceil(n / c)
        if double_buffered:
            return folds * (r + m + c - 2) + r - 1
        return folds * (2 * r + m + c - 2) - 1
    folds = np.ceil(m / r) * np.ceil(n / c)
    return folds * (k + r + c - 2) - 1


def gemm_cycles(m: int, k: int, n: int, rows: int, cols: int, dataflow: str = "ws",
                double_buffered: bool = False) -> int:
    """Stall-free cycles of one GEMM; equals SCALE-Sim v3's count when `double_buffered` is False."""
    for name, v in (("m", m), ("k", k), ("n", n), ("rows", rows), ("cols", cols)):
        if int(v) != v or v <= 0:
            raise UserError(f"gemm_cycles: {name}={v} must be a positive integer")
    df = _check_dataflow(dataflow)
    m, k, n, r, c = (int(x) for x in (m, k, n, rows, cols))
    if df == "ws":
        folds = -(-k // r) * -(-n // c)
        return folds * (r + m + c - 2) + r - 1 if double_buffered else folds * (2 * r + m + c - 2) - 1
    return -(-m // r) * -(-n // c) * (k + r + c - 2) - 1


def fill_read_bytes(m, k, n, cols, cap_in_bytes, word_bytes, cap_out_bytes=np.inf, acc_bytes=4):
    """Bytes read into a buffer level for one GEMM, given its input-tile and output-tile capacities.

    Two loop orders, whichever moves less: (a) stream the weights (B) once and re-read the input once per
    column fold of the array unless the whole input fits, which needs the M x cols partial sums of one column
    fold to stay resident (else it is not available); (b) keep input row-chunks resident (small enough for
    both the input and the partial-sum tile) and re-stream the weights once per chunk. Outputs are written
    once, accumulated on chip (added by the caller).
    """
    inp = m * k * word_bytes
    wts = k * n * word_bytes
    psum_tile = m * cols * acc_bytes
    col_folds = np.ceil(n / cols)
    order_a = wts + inp * np.where(inp <= cap_in_bytes, 1.0, col_folds)
    order_a = np.where(psum_tile <= cap_out_bytes, order_a, np.inf)
    m_chunks = np.maximum(np.ceil(inp / cap_in_bytes), np.ceil(psum_tile / cap_out_bytes))
    order_b = inp + wts * m_chunks
    return np.minimum(order_a, order_b)


def first_fold_cycles(rows, cols, k, dataflow: str, link_words_per_cycle):
    """Cycles to fetch the first fold's operands, which double buffering cannot hide."""
    words = np.minimum(rows, k) * cols if dataflow == "ws" else (rows + cols) * k
    return words / link_words_per_cycle


def bandwidth_limited_gemm_cycles(m: int, k: int, n: int, rows: int, cols: int, dataflow: str,
                                  bw_bytes_per_cycle: float, sram_kb: tuple[float, float, float] = (64, 64, 64),
                                  word_bytes: int = 1, buffer_policy: str = "ideal") -> float:
    """Total cycles of one GEMM on one array whose SRAMs are fed from DRAM at `bw_bytes_per_cycle`.

    buffer_policy="ideal" (default; the estimator's rule for one level): one shared interface; SRAMs
    double-buffered (half of the ifmap SRAM holds the input tile, half of the ofmap SRAM the 32-bit WS partial
    sums), bytes moved per `fill_read_bytes` plus outputs written once, time = max(array cycles (SCALE-Sim
    stall-free, no weight-load overlap), bytes / bandwidth) + the unhidden first-fold fetch. An optimistic bound.

    buffer_policy="scalesim": SCALE-Sim v3's USER-bandwidth memory system (catransformers.hardware.scalesim_policy):
    each operand (ifmap, filter, ofmap) has its own link of `bw_bytes_per_cycle`; an operand larger than the active
    half of its SRAM is re-fetched every pass (and round the whole buffer ring when demand steps back); WS writes
    every reduction fold's partial sums, OS the outputs once; the first fill of the active halves is not counted.
    Reproduces SCALE-Sim's "Total Cycles"; use it to compare with SCALE-Sim, not to design hardware.
    """
    df = _check_dataflow(dataflow)
    if bw_bytes_per_cycle <= 0:
        raise UserError(f"bw_bytes_per_cycle={bw_bytes_per_cycle} must be positive")
    if buffer_policy not in BUFFER_POLICIES:
        raise UserError(f"unknown buffer_policy '{buffer_policy}'; allowed: {', '.join(BUFFER_POLICIES)}")
    compute = gemm_cycles(m, k, n, rows, cols, df, double_buffered=False)
    if buffer_policy == "scalesim":
        if min(sram_kb) <= 0 or word_bytes <= 0:
            raise UserError(f"sram_kb={sram_kb} and word_bytes={word_bytes} must be positive")
        words = tuple(max(1, int(kb * 1024 // word_bytes)) for kb in sram_kb)
        return scalesim_traffic(m, k, n, rows, cols, df, bw_bytes_per_cycle / word_bytes, words,
                                compute).total_cycles
    cap_in = sram_kb[0] * 1024 / 2
    cap_out = sram_kb[2] * 1024 / 2 if df == "ws" else np.inf  # OS accumulates in the PEs
    moved = float(fill_read_bytes(m, k, n, cols, cap_in, word_bytes, cap_out, 4 * word_bytes))
    moved += m * n * word_bytes
    startup = float(first_fold_cycles(rows, cols, k, df, bw_bytes_per_cycle / word_bytes))
    return max(float(compute), moved / bw_bytes_per_cycle) + startup
