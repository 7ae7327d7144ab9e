"""Technology tables of the accelerator template (22 nm unless said), each figure with its source.

The cost model reads everything through `Tech`, a pydantic model whose defaults are these tables, so every
figure can be overridden from a config without editing code. Stated assumptions (no published source) say so.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# --- compute -------------------------------------------------------------------------------------------------
# Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: 8-bit integer multiply 0.2 pJ, 32-bit add 0.1 pJ.
HOROWITZ_INT8_MULT_45NM_PJ = 0.2
HOROWITZ_INT32_ADD_45NM_PJ = 0.1
# Horowitz ISSCC 2014, 45 nm: 16-bit floating-point add 0.4 pJ (vector-lane op, fp16 arithmetic assumed).
HOROWITZ_FP16_ADD_45NM_PJ = 0.4
# 45 nm -> 22 nm dynamic-energy scaling factor used in DESIGN §6 (Horowitz figures scaled x0.294).
SCALE_45_TO_22NM = 0.294
MAC_INT8_22NM_PJ = (HOROWITZ_INT8_MULT_45NM_PJ + HOROWITZ_INT32_ADD_45NM_PJ) * SCALE_45_TO_22NM  # 0.088 pJ
ACCUMULATE_22NM_PJ = HOROWITZ_INT32_ADD_45NM_PJ * SCALE_45_TO_22NM  # 0.029 pJ: adding a partial sum across K folds
VECTOR_OP_22NM_PJ = HOROWITZ_FP16_ADD_45NM_PJ * SCALE_45_TO_22NM  # 0.118 pJ per lane-op

# PE area (int8 MAC + 32 B register file) in the paper's Accelergy flow, 22 nm (DESIGN §6).
PE_AREA_UM2 = 380.0

# --- SRAM ----------------------------------------------------------------------------------------------------
# Instance areas of the paper's Accelergy/CACTI flow at 22 nm (DESIGN §6): L2 64 KB..1 MB, GLB 2..8 MB.
SRAM_AREA_KB = np.array([64, 128, 256, 512, 1024, 2048, 4096, 8192], dtype=float)
SRAM_AREA_MM2 = np.array([0.106, 0.219, 0.448, 0.816, 1.642, 3.101, 6.208, 12.235])
# CACTI 7, 22 nm, 1R+1W ports, 64-bit port: read energy per access (DESIGN §6).
SRAM_ENERGY_KB = np.array([64, 256, 1024, 2048, 8192], dtype=float)
SRAM_READ_64B_PJ = np.array([7.4, 15.9, 32.3, 47.1, 96.8])
SRAM_PORT_REF_BITS = 64.0
# Access energy grows sub-linearly with port width ("wider ports cost less per bit", DESIGN §6): energy per access
# ~ (width/64)^0.86, a least-squares fit (through the 64-bit point, mean of read and write) to CACTI 7 22 nm runs of
# 64 KB-8 MB x 64-1024-bit ports, 1R+1W (benchmarks/fixtures/cacti_22nm.json; per-point exponents 0.66-0.97).
SRAM_PORT_WIDTH_EXPONENT = 0.86
# Stated assumptions (no cited figure): leakage of low-standby-power SRAM and of logic at 22 nm.
SRAM_LEAK_MW_PER_MB = 10.0
LOGIC_LEAK_MW_PER_MM2 = 5.0
# GLB organisation (stated assumption): banks of 128 KB, each with a 128-bit (16 B) port per cycle.
GLB_BANK_KB = 128.0
GLB_BANK_PORT_BYTES = 16.0

# --- DRAM ----------------------------------------------------------------------------------------------------
# Access energy per bit: LPDDR ~8 pJ/bit (Accelergy lineage, DESIGN §6); DDR3/DDR4 20 pJ/bit (lower end of
# Horowitz ISSCC 2014's 20-40 pJ/bit DRAM range).
DRAM_PJ_PER_BIT = {"lpddr": 8.0, "ddr": 20.0}
# Default bandwidth: LPDDR3-1600 (JEDEC JESD209-3) = 1600 MT/s x 32-bit channel = 6.4 GB/s per channel;
# two channels (64-bit bus, typical of mobile SoCs) is a stated assumption -> 12.8 GB/s.
LPDDR3_1600_CHANNEL_GBPS = 6.4
DEFAULT_DRAM_BW_GBPS = 2 * LPDDR3_1600_CHANNEL_GBPS

# --- vector unit ---------------------------------------------------------------------------------------------
# Cycles per element per lane (stated assumptions: one ALU op per cycle; transcendental functions by a
# 3-4 op polynomial/LUT; softmax = max, subtract+exp, sum, divide; layernorm = mean, variance, normalise, affine).
VECTOR_CYCLES_PER_ELEMENT = {
    "add": 1.0, "mul": 1.0, "scale": 1.0, "relu": 1.0, "gelu": 4.0, "quick_gelu": 3.0, "silu": 4.0, "tanh": 4.0,
    "softmax": 5.0, "layernorm": 5.0, "rmsnorm": 4.0, "rope": 3.0, "l2norm": 3.0, "copy": 1.0,
}

# --- calibrated area terms (see area.py for the arithmetic) --------------------------------------------------
# Vector lane and per-cluster overhead areas, calibrated to the paper's smallest and largest template points.
VECTOR_LANE_AREA_UM2 = 5572.0
CLUSTER_OVERHEAD_MM2 = 0.02


def dram_family(dram_type: str) -> str:
    """'lpddr' for LPDDR parts, 'ddr' otherwise (selects the access energy)."""
    return "lpddr" if dram_type.startswith("lpddr") else "ddr"


class Tech(BaseModel):
    """Every technology figure the cost model uses; defaults are the cited tables above."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mac_energy_pj: float = Field(MAC_INT8_22NM_PJ, gt=0, description="one int8 MAC incl. 32-bit accumulate")
    accumulate_energy_pj: float = Field(ACCUMULATE_22NM_PJ, ge=0, description="32-bit partial-sum add")
    vector_op_energy_pj: float = Field(VECTOR_OP_22NM_PJ, gt=0)
    pe_area_um2: float = Field(PE_AREA_UM2, gt=0)
    vector_lane_area_um2: float = Field(VECTOR_LANE_AREA_UM2, ge=0)
    cluster_overhead_mm2: float = Field(CLUSTER_OVERHEAD_MM2, ge=0)
    sram_port_width_exponent: float = Field(SRAM_PORT_WIDTH_EXPONENT, ge=0, le=1)
    sram_leak_mw_per_mb: float = Field(SRAM_LEAK_MW_PER_MB, ge=0)
    logic_leak_mw_per_mm2: float = Field(LOGIC_LEAK_MW_PER_MM2, ge=0)
    glb_bank_kb: float = Field(GLB_BANK_KB, gt=0)
    glb_bank_port_bytes: float = Field(GLB_BANK_PORT_BYTES, gt=0)
    lpddr_pj_per_bit: float = Field(DRAM_PJ_PER_BIT["lpddr"], gt=0)
    ddr_pj_per_bit: float = Field(DRAM_PJ_PER_BIT["ddr"], gt=0)
    accumulator_bytes: int = Field(4, ge=1, description="partial-sum width in the output buffer")
    area_scale: float = Field(1.0, gt=0, description="multiplies all areas (the tables are 22 nm)")
    energy_scale: float = Field(1.0, gt=0, description="multiplies all dynamic energies (the tables are 22 nm)")


def _loglog(x_kb: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation in log(size)-log(value), extrapolating the end segments."""
    lx, ly, lxs = np.log(np.asarray(x_kb, dtype=float)), np.log(ys), np.log(xs)
    idx = np.clip(np.searchsorted(lxs, lx) - 1, 0, len(xs) - 2)
    slope = (ly[idx + 1] - ly[idx]) / (lxs[idx + 1] - lxs[idx])
    return np.exp(ly[idx] + slope * (lx - lxs[idx]))


def sram_area_mm2(size_kb: np.ndarray | float) -> np.ndarray:
    """Area of one SRAM instance of `size_kb` (paper-flow figures, interpolated in log size)."""
    return _loglog(np.asarray(size_kb, dtype=float), SRAM_AREA_KB, SRAM_AREA_MM2)


def sram_energy_per_byte_pj(size_kb: np.ndarray | float, port_bits: np.ndarray | float, exponent: float) -> np.ndarray:
    """Read/write energy per byte of an SRAM of `size_kb` accessed through a `port_bits`-wide port.

    CACTI-7 64-bit-port energy interpolated in log size, scaled by (port/64)^exponent per access.
    """
    e64 = _loglog(np.asarray(size_kb, dtype=float), SRAM_ENERGY_KB, SRAM_READ_64B_PJ)
    port = np.asarray(port_bits, dtype=float)
    return e64 * (port / SRAM_PORT_REF_BITS) ** exponent / (port / 8.0)
