"""Analytical model of SCALE-Sim v3's double-buffered SRAM fetch policy (USER bandwidth mode), for validation.

Why: our estimator tiles for reuse (`buffer_policy="ideal"`), while SCALE-Sim v3 (Samajdar et al.) moves far more
data, so its bandwidth-limited totals cannot be compared to ours without modelling what it fetches. Behaviour
modelled here, read from scalesim 3.0.0 (memory/read_buffer.py, memory/write_buffer.py, single_layer_sim.py,
compute/systolic_compute_{ws,os}.py) and written in our own terms:

- Each read operand (ifmap A[M,K], filter B[K,N]) has its own SRAM of S words, split half active / half prefetch,
  and its own DRAM link of `bw` words/cycle. The operand is laid out once in a fixed *fetch order* (folds stacked;
  diagonal order except the WS filter, which is row-major) and cut into hash lines of ceil(S / 100) words. The active
  window is ceil(A / line) consecutive lines of that ring (A = active words), the prefetch step
  min(ceil(P / line), lines - window) lines (P = prefetch words).
- A demanded word outside the window slides the window forward by one step (around the ring, as often as needed)
  and each slide requests a full prefetch half (ceil(P / bw) * bw words) from DRAM. So an operand that fits its
  active half is read once; a larger one is re-read on every pass, and a demand that steps *back* past the window
  start (the WS filter block is read last row first; an OS filter slab is re-read once per row fold) sends the window
  all the way round the ring.
- The first fill of the active halves happens before cycle 0 and is not in SCALE-Sim's "Total Cycles".
- Outputs go to DRAM through a half/half write buffer on their own link: WS writes every reduction fold's partial
  sums (ceil(K / rows) * M * N words), OS writes the outputs once (M * N words). Drains start once half the buffer
  is used and stall the array only when the buffer is full.
- Timing: each read link streams its prefetches back to back from cycle 0; a demand that slides the window waits
  for that prefetch. The stall-free cycle of every slide comes from the fold schedule (WS: R-cycle weight load,
  then M + R - 1 skewed input cycles per fold; OS: K + R - 1 per fold), and stalls accumulate as SCALE-Sim counts
  them (see `_read_stalls`). Where reads thrash this converges to the busiest read link's post-fill words / bw.
  Read and write stalls do not add up (SCALE-Sim takes their max per cycle), so the total is
  max(compute + read stalls, write link's time).

The walk over the demand stream is sequential (the window position is state), at the granularity of folds (and of
rows for the WS filter); position and probe arithmetic is vectorised with numpy. ~1 ms for the fixture cases, ~1 s
for a 512 x 4096 x 14336 GEMM on a 32 x 32 array: a validation tool, not for sweeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

READ_ACTIVE_FRAC = 0.5  # scalesim 3.0.0 single_layer_sim.py: active_buf_frac = 0.5 for read and write buffers
HASH_LINES_PER_SRAM = 100  # scalesim 3.0.0 read_buffer.prepare_hashed_buffer: ceil(SRAM words / 100) words per line


@dataclass(frozen=True)
class Window:
    """Active window and prefetch step, in hash lines, of one read buffer over one operand's fetch ring."""

    line_words: int  # words per hash line
    ring_lines: int  # hash lines the operand occupies (SCALE-Sim counts one trailing, possibly empty, line)
    active_lines: int
    step_lines: int  # 0 when the operand fits the active half (never re-fetched)


def window(sram_words: int, operand_words: int) -> Window:
    """Window geometry of a read buffer of `sram_words` holding an operand of `operand_words` valid words."""
    active = math.ceil(sram_words * READ_ACTIVE_FRAC)
    prefetch = sram_words - active
    line = math.ceil(sram_words / HASH_LINES_PER_SRAM)
    ring = operand_words // line + 1
    act = min(math.ceil(active / line), ring)
    step = min(math.ceil(prefetch / line), ring - act)
    return Window(line, ring, act, step)


def _diag_prefix(rows: int, cols: int) -> np.ndarray:
    """Words in the diagonals before each diagonal d of a rows x cols matrix laid out diagonal by diagonal."""
    d = np.arange(rows + cols, dtype=np.int64)
    length = np.minimum.reduce([d + 1, np.full_like(d, cols), np.full_like(d, rows), rows + cols - 1 - d])
    return np.concatenate(([0], np.cumsum(np.maximum(length, 0))))


def _diag_pos(prefix: np.ndarray, rows: int, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Index of element (r, c) in diagonal order (diagonals ascending, rows descending within one diagonal)."""
    d = r + c
    return prefix[d] + np.minimum(d, rows - 1) - r


def _valid_pos(pos: np.ndarray, pad_start: int, total: int, pad_words: int) -> np.ndarray:
    """Map an index among all entries to one among valid words: null entries (under-filled last fold) are not stored.

    The nulls sit in the last fold's region; we spread them evenly over it (exact before it, approximate inside).
    """
    if pad_words == 0 or total <= pad_start:
        return pos
    frac = np.clip((pos - pad_start) / (total - pad_start), 0.0, 1.0)
    return (pos - np.round(frac * pad_words)).astype(np.int64)


def _fold_segments(folds: int, fold_rows: int, cols: int, last_valid_cols: int) -> np.ndarray:
    """(first, last) valid-word index of each fold of a diagonal-ordered stack of `folds` blocks (fold_rows x cols).

    A fold is demanded with the array's skew, i.e. diagonal by diagonal, so its words are reached in ascending
    fetch order from its top-left to its bottom-right valid word.
    """
    rows = folds * fold_rows
    prefix = _diag_prefix(rows, cols)
    total = rows * cols
    pad = fold_rows * (cols - last_valid_cols)
    r0 = np.arange(folds, dtype=np.int64) * fold_rows
    last_c = np.full(folds, cols - 1, dtype=np.int64)
    last_c[-1] = last_valid_cols - 1
    first = _diag_pos(prefix, rows, r0, np.zeros(folds, dtype=np.int64))
    last = _diag_pos(prefix, rows, r0 + fold_rows - 1, last_c)
    pad_start = int(_diag_pos(prefix, rows, np.array([r0[-1]]), np.array([last_valid_cols]))[0]) if pad else total
    return np.stack([_valid_pos(first, pad_start, total, pad), _valid_pos(last, pad_start, total, pad)], axis=1)


Probe = tuple[int, int, float, float]  # (first line, last line, stall-free cycle of the first, cycles to reach last)
Event = tuple[float, int]  # (stall-free cycle, window slides at that demand)


def _walk(win: Window, probes: list[Probe]) -> list[Event]:
    """Window slides SCALE-Sim makes for a demand stream of ascending line ranges, with the cycle of each."""
    events: list[Event] = []
    if win.step_lines == 0:
        return events
    ring, act, step = win.ring_lines, win.active_lines, win.step_lines
    start = 0
    for lo, hi, t0, dur in probes:
        d = (lo - start) % ring  # a line behind the window start sends the window round the ring
        if d >= act:
            n = -(-(d - act + 1) // step)
            events.append((t0, n))
            start = (start + n * step) % ring
            d -= n * step
        over = d + hi - lo - act + 1  # lines of the range past the window's end, one slide per `step`
        if over > 0:
            n = -(-over // step)
            first = lo + act - d  # the line whose demand makes the first slide
            span = hi - lo + 1
            events.extend((t0 + dur * (first + i * step - lo) / span, 1) for i in range(n))
            start = (start + n * step) % ring
    return events


def _fold_probes(seg: np.ndarray, line: int, t0: np.ndarray, dur: float) -> list[Probe]:
    """Ascending-range probes from word segments and their stall-free start cycles."""
    lines = seg // line
    return [(int(a), int(b), float(t), dur) for (a, b), t in zip(lines, t0, strict=True)]


def _ws_filter_probes(k: int, n: int, rows: int, cols: int, line: int, fold_cycles: int) -> list[Probe]:
    """WS filter: col-fold slabs (K x cols, row-major) ; block (fr, fc) is loaded last row first, one row a cycle."""
    row_folds, col_folds = -(-k // rows), -(-n // cols)
    per_row = np.full(col_folds, cols, dtype=np.int64)
    per_row[-1] = n - (col_folds - 1) * cols
    fc, fr, r = np.meshgrid(np.arange(col_folds), np.arange(row_folds), np.arange(rows - 1, -1, -1), indexing="ij")
    fc, fr, r = fc.ravel(), fr.ravel(), r.ravel()
    keep = fr * rows + r < k  # rows past K are null (padding of the last row fold)
    fc, fr, r = fc[keep], fr[keep], r[keep]
    w = per_row[fc]
    word0 = fc * k * cols + (fr * rows + r) * w
    t = ((fc * row_folds + fr) * fold_cycles + (rows - 1 - r)).astype(float)
    # each row touches its first then its last line in the same cycle; consecutive repeats change nothing
    lines = np.stack([word0 // line, (word0 + w - 1) // line], axis=1).ravel()
    times = np.repeat(t, 2)
    change = np.concatenate(([True], lines[1:] != lines[:-1]))
    return [(int(x), int(x), float(tt), 0.0) for x, tt in zip(lines[change], times[change], strict=True)]


def operand_words(dataflow: str, m: int, k: int, n: int, rows: int, cols: int, which: str) -> tuple[int, int]:
    """(valid words, words incl. the null entries of an under-filled last fold) of one read operand's fetch ring."""
    if which == "ifmap":
        return m * k, (m * -(-k // rows) * rows if dataflow == "ws" else k * -(-m // rows) * rows)
    return k * n, k * -(-n // cols) * cols


def _read_probes(dataflow: str, m: int, k: int, n: int, rows: int, cols: int, which: str,
                 line: int) -> list[Probe]:
    """Demand probes of one read operand, in hash lines of `line` words."""
    col_folds = -(-n // cols)
    if dataflow == "ws":
        row_folds = -(-k // rows)
        fold_cycles = 2 * rows + m + cols - 2
        if which == "filter":
            return _ws_filter_probes(k, n, rows, cols, line, fold_cycles)
        # ifmap: K in row folds of `rows` (each M x rows, diagonal order), streamed after the R-cycle weight load
        seg = np.tile(_fold_segments(row_folds, m, rows, k - (row_folds - 1) * rows), (col_folds, 1))
        t0 = np.arange(len(seg)) * fold_cycles + rows
        return _fold_probes(seg, line, t0, m + rows - 1)
    row_folds = -(-m // rows)
    fold_cycles = k + rows + cols - 2
    t0 = np.arange(row_folds * col_folds) * fold_cycles
    if which == "ifmap":  # M in row folds of `rows` (each K x rows, transposed), read once per col fold
        seg = _fold_segments(row_folds, k, rows, m - (row_folds - 1) * rows)
        return _fold_probes(np.tile(seg, (col_folds, 1)), line, t0, k + rows - 1)
    seg = _fold_segments(col_folds, k, cols, n - (col_folds - 1) * cols)  # slab re-read once per row fold
    return _fold_probes(np.repeat(seg, row_folds, axis=0), line, t0, k + cols - 1)


@dataclass(frozen=True)
class ScaleSimTraffic:
    """Per-link DRAM words and cycles of one GEMM under SCALE-Sim's buffer policy."""

    compute_cycles: int
    ifmap_dram_words: int  # reads incl. the first fill and every re-fetch
    filter_dram_words: int
    ofmap_dram_words: int  # writes (WS: every fold's partial sums)
    ifmap_link_cycles: float  # reads after the first fill / bandwidth
    filter_link_cycles: float
    ofmap_link_cycles: float  # cycle at which the write link has taken all but one buffer of outputs
    read_stall_cycles: float  # array stalls waiting for re-fetches (both read links)
    total_cycles: float  # max(compute + read stalls, write link): SCALE-Sim's "Total Cycles" (first fill excluded)


def _read_link(dataflow, m, k, n, rows, cols, which, sram_words, bw) -> tuple[int, float, list[Event], float]:
    """(DRAM words, link cycles after the first fill, slide events, link cycles per prefetch) of one read operand."""
    valid, padded = operand_words(dataflow, m, k, n, rows, cols, which)
    win = window(sram_words, valid)
    events = [] if win.step_lines == 0 else _walk(win, _read_probes(dataflow, m, k, n, rows, cols, which,
                                                                    win.line_words))
    slides = sum(e[1] for e in events)
    active = math.ceil(sram_words * READ_ACTIVE_FRAC)
    first_fill = min(math.ceil(active / bw), math.ceil(padded / bw)) * bw
    per_prefetch = math.ceil((sram_words - active) / bw)  # link cycles (request lines) per prefetch
    return int(first_fill + slides * per_prefetch * bw), float(slides * per_prefetch), events, per_prefetch + 1.0


def _read_stalls(links: list[tuple[list[Event], float]]) -> float:
    """Array stall cycles from re-fetches, SCALE-Sim's way.

    Each link streams prefetches back to back from cycle 0 (one request line a cycle plus one cycle of latency
    each). A demand that slides the window waits for that prefetch; SCALE-Sim's read buffer (3.0.0) adds the
    shortfall of a late prefetch twice and subtracts the slack of an early one when several slides happen in
    the same demand cycle, and we reproduce that.
    """
    per_demand: dict[tuple[float, int], int] = {}  # slides in one demand cycle of one link chain together
    for i, (events, _) in enumerate(links):
        for tau, n in events:
            per_demand[(tau, i)] = per_demand.get((tau, i), 0) + n
    merged = sorted((tau, n, i) for (tau, i), n in per_demand.items())
    done = [-1.0] * len(links)  # completion cycle of each link's last prefetch (first fill ends before cycle 0)
    delay = 0.0
    for tau, n, i in merged:
        t = tau + delay
        offset = 1.0  # read hit latency, cycles
        for _ in range(n):
            done[i] += links[i][1]
            short = done[i] - (t + offset)
            offset += 2 * short if short > 0 else short
        delay += max(0.0, offset - 1.0)
    return delay


def scalesim_traffic(m: int, k: int, n: int, rows: int, cols: int, dataflow: str, bw_words_per_cycle: float,
                     sram_words: tuple[int, int, int], compute_cycles: int) -> ScaleSimTraffic:
    """DRAM traffic and cycles of C[m,n] = A[m,k] B[k,n] under SCALE-Sim's policy; one link per operand."""
    bw = bw_words_per_cycle
    if_words, if_cyc, if_ev, if_per = _read_link(dataflow, m, k, n, rows, cols, "ifmap", sram_words[0], bw)
    f_words, f_cyc, f_ev, f_per = _read_link(dataflow, m, k, n, rows, cols, "filter", sram_words[1], bw)
    stalls = _read_stalls([(if_ev, if_per), (f_ev, f_per)])
    writes = (-(-k // rows) if dataflow == "ws" else 1) * m * n
    out_sram = sram_words[2]
    half = out_sram - math.ceil(out_sram * READ_ACTIVE_FRAC)
    # drains start once half the buffer is filled (at the array's write rate), then run back to back; the last
    # buffer-full drains after the array is done, outside "Total Cycles"
    o_cyc = compute_cycles * half / writes + (writes - out_sram) / bw if writes > out_sram else 0.0
    total = max(compute_cycles + stalls, o_cyc)
    return ScaleSimTraffic(compute_cycles, if_words, f_words, writes, if_cyc, f_cyc, o_cyc, stalls, total)
