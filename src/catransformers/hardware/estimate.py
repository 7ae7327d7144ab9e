"""Latency and energy of a workload on many template configs at once (ops x configs numpy broadcasting).

Model (per operator instance, configs along the second axis):
- Multi-cluster: a GEMM is split across clusters by N (column folds dealt out, the busiest cluster sets the
  time) or by M (rows dealt out), whichever computes sooner; the imbalance is in the ceil()s.
- Compute: systolic cycles of the busiest cluster in the chosen timing mode (`array_cycles`, systolic.py:
  "pipelined" by default, "scalesim" fold by fold, "ideal" MACs / active PEs).
- Memory levels, all double-buffered so transfers overlap compute: GLB->L2 at `l2_bw` words/cycle per
  cluster (bytes from `fill_read_bytes`, a quarter of the L2 each for the input and partial-sum tiles,
  outputs written back once);
  GLB banks (`glb_bank_port_bytes` per `glb_bank_kb` bank) carrying every cluster's fills and the DRAM traffic;
  DRAM at `dram_bw_gbps`. B operands in DRAM (weights, KV cache) are read once per instance if the
  activations fit in 3/4 of the GLB, otherwise once per GLB-sized row chunk plus activations spill to DRAM.
- time = max(compute, l2, glb, dram) + the first weight fold's fetch (not in "ideal"); the largest term is the
  op's bound, and a config's `bound` is the term holding most of its latency. Vector ops (on all clusters'
  lanes) and GEMMs run one after another (no inter-op overlap: conservative).
- Energy = MACs x e_mac + MACs x register-file accesses x e_rf + SRAM bytes x e(size, port) per level + DRAM
  bits x pJ/bit + vector lane-ops x e_vec + leakage power x latency, each term kept per config in
  `energy_breakdown_j` (ENERGY_KEYS). On-chip energies scale from 22 nm to `node_nm` (node.py).
  In WS every K fold after the first reads and writes back the M x N partial sums
  (32-bit) in the L2 plus one 32-bit add each, as SCALE-Sim (ofmap writes per fold) and ZigZag (psum
  traffic) both count: shallow arrays pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from catransformers.hardware.area import area_parts_mm2
from catransformers.hardware.dram import complete_dram
from catransformers.hardware.node import node_factors
from catransformers.hardware.systolic import (
    DEFAULT_TIMING,
    _check_dataflow,
    array_cycles,
    check_timing,
    fill_read_bytes,
)
from catransformers.hardware.tech import (
    Tech,
    sram_energy_per_byte_pj,
)

if TYPE_CHECKING:
    from catransformers.workload.ops import Workload

BOUNDS = ("compute", "l2", "glb", "dram")
ENERGY_KEYS = ("mac", "register_file", "l2", "glb", "dram", "vector", "leakage")
_DYNAMIC_KEYS = ENERGY_KEYS[:-1]
GLB_ACTIVATION_SHARE = 0.75  # stated assumption: 1/4 of the GLB stages weights streaming from DRAM
# Stated assumption: half of the L2 per double buffer; of that, half for the input tile, half for partial sums.
L2_INPUT_SHARE = 0.25
L2_OUTPUT_SHARE = 0.25
_MAX_CELLS = 3_000_000  # ops x configs per chunk (bounds peak memory for long decode workloads)


@dataclass
class Estimate:
    """Per-config results (arrays of length n_configs); per-op matrices when requested."""

    latency_s: np.ndarray
    energy_j: np.ndarray  # per inference, incl. leakage during the inference
    dynamic_energy_j: np.ndarray
    leakage_w: np.ndarray
    area_mm2: np.ndarray
    bound: np.ndarray  # str: compute | l2 | glb | dram
    bound_share: np.ndarray  # fraction of latency in ops limited by `bound`
    dram_bytes: np.ndarray
    macs: float
    energy_breakdown_j: dict[str, np.ndarray]  # ENERGY_KEYS -> per config (J); sums to energy_j
    timing: str  # the timing mode used ("scalesim+db" for the legacy double-buffered fold-by-fold count)
    op_latency_s: np.ndarray | None = None  # (n_ops, n_configs), all repeats of the op
    op_energy_j: np.ndarray | None = None  # (n_ops, n_configs), dynamic + its share of leakage
    op_dram_bytes: np.ndarray | None = None


def _col(hw: dict[str, np.ndarray], key: str) -> np.ndarray:
    return np.asarray(hw[key], dtype=float)[None, :]


def _nodes(hw: dict[str, np.ndarray]) -> np.ndarray:
    """node_nm per config (22 nm where the table has no such column)."""
    return np.asarray(hw.get("node_nm", np.full(len(np.asarray(hw["clusters"])), 22)))


def _chunk(w: Workload, hw: dict[str, np.ndarray], tech: Tech, df: str, db: bool, timing: str,
           vec_cpe: np.ndarray) -> dict[str, np.ndarray]:
    col = lambda key: _col(hw, key)  # noqa: E731
    p, width, depth = col("clusters"), col("width"), col("depth")
    wb = col("precision_bits") / 8.0
    l2_bytes, glb_bytes = col("l2_kb") * 1024.0, col("glb_mb") * 1024.0**2
    l2_bw_words = col("l2_bw")
    freq_hz = col("freq_mhz") * 1e6
    has_dram = col("dram_gb") > 0  # else on chip only: what would come from DRAM is read from the global buffer
    dram_bpc = np.where(has_dram, col("dram_bw_gbps"), 1.0) * 1e9 / freq_hz
    glb_bpc = (col("glb_mb") * 1024.0 / tech.glb_bank_kb) * tech.glb_bank_port_bytes

    g = w.is_gemm[:, None]
    m, k, n = (np.maximum(x, 1.0)[:, None] for x in (w.m, w.k, w.n))
    b_dram = w.b_from_dram[:, None]

    # --- partition across clusters and compute --------------------------------------------------------------
    col_folds = np.ceil(n / width)
    folds_per_cluster = np.ceil(col_folds / p)
    n_c = np.minimum(n, folds_per_cluster * width)
    m_c = np.ceil(m / p)
    comp_nsplit = array_cycles(m, k, n_c, depth, width, df, db, timing)
    comp_msplit = array_cycles(m_c, k, n, depth, width, df, db, timing)
    use_m = comp_msplit < comp_nsplit
    compute = np.where(use_m, comp_msplit, comp_nsplit)
    mc, nc = np.where(use_m, m_c, m), np.where(use_m, n, n_c)

    # --- GLB -> L2 (per cluster) ------------------------------------------------------------------------------
    psum_cap = L2_OUTPUT_SHARE * l2_bytes if df == "ws" else np.inf  # OS accumulates in the PEs
    l2_read = fill_read_bytes(mc, k, nc, width, L2_INPUT_SHARE * l2_bytes, wb, psum_cap, tech.accumulator_bytes * wb)
    l2_fill = l2_read + mc * nc * wb  # + outputs written back to the GLB
    l2_cycles = l2_fill / (l2_bw_words * wb)

    # --- DRAM <-> GLB -------------------------------------------------------------------------------------------
    act = (m * k + m * n) * wb
    b_bytes = k * n * wb
    glb_cap = GLB_ACTIVATION_SHARE * glb_bytes
    dram_b = np.where(act <= glb_cap, b_bytes, b_bytes * np.ceil(act / glb_cap) + act)
    on_chip = act + b_bytes
    dram_onchip = np.where(on_chip <= glb_cap, 0.0, on_chip)
    extra = w.extra_dram_words[:, None] * wb
    dram = np.where(g, np.where(b_dram, dram_b, dram_onchip), 0.0) + extra
    dram_cycles = np.where(has_dram, dram / dram_bpc, 0.0)

    glb_traffic = np.where(g, p * l2_fill, 0.0) + dram
    glb_cycles = glb_traffic / glb_bpc

    # --- vector ops -------------------------------------------------------------------------------------------
    elements = w.elements[:, None]
    cpe = vec_cpe[:, None]
    vec_cycles = np.ceil(elements / (p * width)) * cpe

    startup = np.where(g, np.minimum(depth, k) * width / l2_bw_words, 0.0) if timing != "ideal" else 0.0
    compute_all = np.where(g, compute, vec_cycles)
    l2_all = np.where(g, l2_cycles, 0.0)
    stack = np.stack(np.broadcast_arrays(compute_all, l2_all, glb_cycles, dram_cycles))
    bound_idx = stack.argmax(axis=0)
    op_cycles = (stack.max(axis=0) + startup) * w.count[:, None]
    op_seconds = op_cycles / freq_hz

    # --- energy (pJ per instance, per component) ----------------------------------------------------------------
    nf = node_factors(_nodes(hw), tech.scale_by_node)
    logic_e = tech.energy_scale * nf["logic_energy"][None, :]
    sram_e = tech.energy_scale * tech.sram_energy_scale * nf["sram_energy"][None, :]
    e_mac = tech.mac_energy_pj * (col("precision_bits") / 8.0) ** 2
    macs = m * k * n
    k_folds = np.ceil(k / depth)
    psum_accumulations = (k_folds - 1.0) * m * n if df == "ws" else 0.0
    e_compute = (macs * e_mac + psum_accumulations * tech.accumulate_energy_pj) * logic_e
    e_rf = macs * (tech.rf_reads_per_mac * tech.rf_read_energy_pj + tech.rf_writes_per_mac * tech.rf_write_pj) * logic_e
    if df == "ws":  # each weight loaded into the array once; inputs re-streamed per column fold; psums per K fold
        array_bytes = (k * n + m * k * col_folds + m * n) * wb + 2 * psum_accumulations * tech.accumulator_bytes * wb
    else:  # OS: inputs per column fold, weights per row fold
        array_bytes = (m * k * col_folds + k * n * np.ceil(m / depth) + m * n) * wb
    l2_port_bits = l2_bw_words * wb * 8.0
    e_l2 = sram_energy_per_byte_pj(col("l2_kb"), l2_port_bits, tech.sram_port_width_exponent) * sram_e
    e_glb = sram_energy_per_byte_pj(col("glb_mb") * 1024.0, tech.glb_bank_port_bytes * 8.0,
                                    tech.sram_port_width_exponent) * sram_e
    e_dram_bit = col("dram_pj_per_bit")
    count = w.count[:, None]
    zero = np.zeros(op_seconds.shape)
    parts = {
        "mac": np.where(g, e_compute, 0.0),
        "register_file": np.where(g, e_rf, 0.0),
        "l2": np.where(g, (array_bytes + p * l2_fill) * e_l2, 2 * elements * wb * e_l2),
        "glb": glb_traffic * e_glb,
        "dram": np.where(has_dram, dram * 8.0 * e_dram_bit, 0.0),
        "vector": np.where(g, 0.0, elements * cpe * tech.vector_op_energy_pj * logic_e),
    }
    parts = {key: (zero + v) * count * 1e-12 for key, v in parts.items()}  # J, all repeats
    return {"op_seconds": op_seconds, "parts_j": parts, "dram_bytes": np.where(has_dram, dram, 0.0) * count,
            "bound_idx": bound_idx}


def leakage_w(hw: dict[str, np.ndarray], tech: Tech) -> np.ndarray:
    """Static power of each config: logic area x density + SRAM capacity x per-MB leakage (stated assumptions).

    The densities are 22 nm figures, applied to 22 nm areas and scaled by the node's leakage factor (node.py).
    """
    parts = area_parts_mm2(hw, tech, at_node=False)
    nf = node_factors(_nodes(hw), tech.scale_by_node)
    logic_mm2 = parts["pe_mm2"] + parts["vector_mm2"] + parts["overhead_mm2"]
    sram_mb = (np.asarray(hw["clusters"], float) * np.asarray(hw["l2_kb"], float) / 1024.0
               + np.asarray(hw["glb_mb"], float))
    return (logic_mm2 * tech.logic_leak_mw_per_mm2 * nf["logic_leakage"]
            + sram_mb * tech.sram_leak_mw_per_mb * nf["sram_leakage"]) * 1e-3


def estimate(workload: Workload, hw: dict[str, np.ndarray], tech: Tech | None = None, dataflow: str = "ws",
             double_buffered: bool = True, per_op: bool = False, timing: str | None = DEFAULT_TIMING) -> Estimate:
    """Latency, energy and area of `workload` on every config of the columnar `hw` in one vectorised pass.

    `timing`: "pipelined" (default), "scalesim" or "ideal" (systolic.py; None = "scalesim"). `double_buffered`
    only acts in "scalesim" (WS weight preload of every fold after the first hidden, reported as "scalesim+db");
    "scalesim" without it is SCALE-Sim v3's exact count, "pipelined" always double-buffers, "ideal" has no preload.
    """
    tech = tech or Tech()
    df = _check_dataflow(dataflow)
    mode = "scalesim" if timing is None else check_timing(timing)
    db = bool(double_buffered) and mode == "scalesim"
    label = "scalesim+db" if db and df == "ws" else mode
    vec_cpe = tech.vector_cycles(workload.vec_kind)
    if "dram_pj_per_bit" not in hw:
        hw = complete_dram(hw, tech)
    n_cfg = len(np.asarray(hw["clusters"]))
    n_ops = len(workload)
    step = max(1, _MAX_CELLS // max(n_ops, 1))
    lat = np.empty(n_cfg)
    dram = np.empty(n_cfg)
    dyn_parts = {key: np.empty(n_cfg) for key in _DYNAMIC_KEYS}
    per_bound = np.empty((len(BOUNDS), n_cfg))
    op_lat = np.empty((n_ops, n_cfg)) if per_op else None
    op_dyn = np.empty((n_ops, n_cfg)) if per_op else None
    op_dram = np.empty((n_ops, n_cfg)) if per_op else None
    for lo in range(0, n_cfg, step):
        sl = slice(lo, min(lo + step, n_cfg))
        part = _chunk(workload, {k: np.asarray(v)[sl] for k, v in hw.items()}, tech, df, db, mode, vec_cpe)
        secs = part["op_seconds"]
        lat[sl] = secs.sum(axis=0)
        for key in _DYNAMIC_KEYS:
            dyn_parts[key][sl] = part["parts_j"][key].sum(axis=0)
        dram[sl] = part["dram_bytes"].sum(axis=0)
        for i in range(len(BOUNDS)):
            per_bound[i, sl] = np.where(part["bound_idx"] == i, secs, 0.0).sum(axis=0)
        if per_op:
            op_lat[:, sl], op_dram[:, sl] = secs, part["dram_bytes"]
            op_dyn[:, sl] = sum(part["parts_j"].values())
    leak = leakage_w(hw, tech)
    dyn = sum(dyn_parts.values())
    breakdown = dict(dyn_parts) | {"leakage": leak * lat}
    energy = dyn + breakdown["leakage"]
    parts = area_parts_mm2(hw, tech)
    best = per_bound.argmax(axis=0)
    share = per_bound.max(axis=0) / np.maximum(lat, 1e-30)
    if per_op:
        op_dyn = op_dyn + op_lat * leak[None, :]
    return Estimate(
        latency_s=lat, energy_j=energy, dynamic_energy_j=dyn, leakage_w=leak, area_mm2=sum(parts.values()),
        bound=np.asarray(BOUNDS)[best], bound_share=share, dram_bytes=dram, macs=workload.total_macs(),
        energy_breakdown_j=breakdown, timing=label, op_latency_s=op_lat, op_energy_j=op_dyn, op_dram_bytes=op_dram,
    )
