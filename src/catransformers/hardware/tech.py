"""Technology tables of the accelerator template (22 nm unless said), each figure with its source.

The cost model reads everything through `Tech`, a pydantic model whose defaults are these tables, so every
figure can be overridden from a config without editing code. Stated assumptions (no published source) say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, field_validator

from catransformers.errors import UserError
from catransformers.strict import StrictModel

# --- compute -------------------------------------------------------------------------------------------------
# Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: 8-bit integer multiply 0.2 pJ, 32-bit add 0.1 pJ.
HOROWITZ_INT8_MULT_45NM_PJ = 0.2
HOROWITZ_INT32_ADD_45NM_PJ = 0.1
# Horowitz ISSCC 2014, 45 nm: 16-bit floating-point add 0.4 pJ (vector-lane op, fp16 arithmetic assumed).
HOROWITZ_FP16_ADD_45NM_PJ = 0.4
# 45 nm -> 22 nm dynamic-energy factor x0.294 (stated assumption, kept so that default figures do not move; the
# Stillmaker & Baas equations of node.py would give x0.24 at nominal supplies).
SCALE_45_TO_22NM = 0.294
MAC_INT8_22NM_PJ = (HOROWITZ_INT8_MULT_45NM_PJ + HOROWITZ_INT32_ADD_45NM_PJ) * SCALE_45_TO_22NM  # 0.088 pJ
ACCUMULATE_22NM_PJ = HOROWITZ_INT32_ADD_45NM_PJ * SCALE_45_TO_22NM  # 0.029 pJ: adding a partial sum across K folds
VECTOR_OP_22NM_PJ = HOROWITZ_FP16_ADD_45NM_PJ * SCALE_45_TO_22NM  # 0.118 pJ per lane-op

# Register-file energy per access (PE operand registers). Default 0: the MAC figure above already holds the
# operand registers of a systolic PE. Accelergy's 45 nm table (Accelergy v0.3 table-plugin data, as used by the
# paper's released flow): 32-bit x 128-entry register file read 3.84 pJ, write 5.12 pJ -> write/read = 4/3.
RF_WRITE_OVER_READ = 5.12 / 3.84
# Operand accesses per MAC at the PE register file, as a Timeloop/Accelergy PE counts them: read the weight, the
# input and the partial sum, write the partial sum back.
RF_READS_PER_MAC = 3.0
RF_WRITES_PER_MAC = 1.0

# --- SRAM ----------------------------------------------------------------------------------------------------
# SRAM instance areas at 22 nm, 64 KB..8 MB: the per-instance areas of the paper's released Accelergy/CACTI flow
# (Wang et al., arXiv 2505.01386, released estimator's area table); instance counts per role are fitted below.
SRAM_AREA_KB = np.array([64, 128, 256, 512, 1024, 2048, 4096, 8192], dtype=float)
SRAM_AREA_MM2 = np.array([0.106, 0.219, 0.448, 0.816, 1.642, 3.101, 6.208, 12.235])
# CACTI 7 (as bundled with ZigZag 3.9.1), 22 nm, 1R+1W ports, 64-bit port: read energy per access
# (runs stored in benchmarks/fixtures/cacti_22nm.json).
SRAM_ENERGY_KB = np.array([64, 256, 1024, 2048, 8192], dtype=float)
SRAM_READ_64B_PJ = np.array([7.4, 15.9, 32.3, 47.1, 96.8])
SRAM_PORT_REF_BITS = 64.0
# Access energy grows sub-linearly with port width (wider ports cost less per bit): energy per access
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
# Access energy, bandwidth and capacities per technology live in the memory technology table
# (catransformers/memory/technologies.toml, each figure cited); see hardware/dram.py for how a config uses them.

# --- vector unit ---------------------------------------------------------------------------------------------
# Cycles per element per lane (stated assumptions: one ALU op per cycle; transcendental functions by a
# 3-4 op polynomial/LUT; softmax = max, subtract+exp, sum, divide; layernorm = mean, variance, normalise, affine).
VECTOR_CYCLES_PER_ELEMENT = {
    "add": 1.0, "mul": 1.0, "scale": 1.0, "relu": 1.0, "gelu": 4.0, "quick_gelu": 3.0, "silu": 4.0, "tanh": 4.0,
    "softmax": 5.0, "layernorm": 5.0, "rmsnorm": 4.0, "rope": 3.0, "l2norm": 3.0, "copy": 1.0,
}

# --- area terms, least-squares fit (relative error) on the 60 given points of the paper's released flow -------
# (benchmarks/fixtures/paper_flow_area_calibration.csv; refit: benchmarks/bench_paper_tables.py --area-fit).
# Free fit: PE 380.3 um2, lane 385 um2, 1.997 L2 instances per cluster, overhead 0.0005 mm2 per cluster. The
# instance count is rounded to 2 (the flow's cluster area holds two l2_kb SRAM instances; we read them as the
# L2 of the tensor core and that of the vector core), the overhead to 0 (a refit with 2 instances gives
# -0.0005 mm2: the flow has no per-cluster controller area), then PE and lane refit: median |error| 0.01 %,
# max 3.5 %. A PE is an int8 MAC + a 6 x 32-bit register file; a vector lane costs about one PE in that flow.
PE_AREA_UM2 = 380.3
VECTOR_LANE_AREA_UM2 = 379.7
L2_INSTANCES_PER_CLUSTER = 2.0
GLB_INSTANCES = 1.0
CLUSTER_OVERHEAD_MM2 = 0.0


class Tech(StrictModel):
    """Every technology figure the cost model uses; defaults are the cited tables above."""

    mac_energy_pj: float = Field(MAC_INT8_22NM_PJ, gt=0, description="one int8 MAC incl. 32-bit accumulate")
    accumulate_energy_pj: float = Field(ACCUMULATE_22NM_PJ, ge=0, description="32-bit partial-sum add")
    vector_op_energy_pj: float = Field(VECTOR_OP_22NM_PJ, gt=0)
    rf_read_energy_pj: float = Field(0.0, ge=0, description="PE register-file read, per operand access")
    rf_write_energy_pj: float | None = Field(None, ge=0, description="None = read x 4/3 (Accelergy table ratio)")
    rf_reads_per_mac: float = Field(RF_READS_PER_MAC, ge=0)
    rf_writes_per_mac: float = Field(RF_WRITES_PER_MAC, ge=0)
    sram_energy_scale: float = Field(1.0, gt=0, description="multiplies the CACTI SRAM access energies")
    vector_cycles_per_element: dict[str, float] = Field(
        default_factory=lambda: dict(VECTOR_CYCLES_PER_ELEMENT), description="vector-op kind -> cycles per element")
    pe_area_um2: float = Field(PE_AREA_UM2, gt=0)
    vector_lane_area_um2: float = Field(VECTOR_LANE_AREA_UM2, ge=0)
    cluster_overhead_mm2: float = Field(CLUSTER_OVERHEAD_MM2, ge=0)
    l2_instances_per_cluster: float = Field(L2_INSTANCES_PER_CLUSTER, gt=0)
    sram_area_scale: float = Field(1.0, gt=0, description="multiplies the SRAM instance areas (L2 and GLB)")
    glb_instances: float = Field(GLB_INSTANCES, gt=0)
    sram_port_width_exponent: float = Field(SRAM_PORT_WIDTH_EXPONENT, ge=0, le=1)
    sram_leak_mw_per_mb: float = Field(SRAM_LEAK_MW_PER_MB, ge=0)
    logic_leak_mw_per_mm2: float = Field(LOGIC_LEAK_MW_PER_MM2, ge=0)
    glb_bank_kb: float = Field(GLB_BANK_KB, gt=0)
    glb_bank_port_bytes: float = Field(GLB_BANK_PORT_BYTES, gt=0)
    lpddr_pj_per_bit: float | None = Field(None, gt=0, description="overrides the memory table's LPDDR pJ/bit")
    ddr_pj_per_bit: float | None = Field(None, gt=0, description="overrides the table's other DRAM (DDR, HBM) pJ/bit")
    dram_energy_scale: float = Field(1.0, gt=0, description="multiplies every DRAM access energy")
    accumulator_bytes: int = Field(4, ge=1, description="partial-sum width in the output buffer")
    area_scale: float = Field(1.0, gt=0, description="multiplies all areas (on top of node scaling)")
    energy_scale: float = Field(1.0, gt=0, description="multiplies all on-chip dynamic energies (on top of node)")
    scale_by_node: bool = Field(True, description="scale area/energy/leakage from 22 nm to the config's node_nm")

    @field_validator("vector_cycles_per_element", mode="before")
    @classmethod
    def _merge_vector_table(cls, v: Any) -> Any:
        """A partial table updates the default one (add a kind or change one without restating the rest)."""
        return dict(VECTOR_CYCLES_PER_ELEMENT) | dict(v) if isinstance(v, dict) else v

    def __hash__(self) -> int:  # frozen settings stay hashable although one field is a dict
        return hash(tuple((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                          for k, v in self.__dict__.items()))

    @property
    def rf_write_pj(self) -> float:
        """Register-file write energy per access (read x 4/3 unless given)."""
        if self.rf_write_energy_pj is None:
            return self.rf_read_energy_pj * RF_WRITE_OVER_READ
        return self.rf_write_energy_pj

    def vector_cycles(self, kinds: np.ndarray) -> np.ndarray:
        """Cycles per element per lane of each vector-op kind ('' = not a vector op: 0)."""
        uniq, inv = np.unique(np.asarray(kinds, dtype=str), return_inverse=True)
        table = self.vector_cycles_per_element
        unknown = [str(u) for u in uniq if u and u not in table]
        if unknown:
            raise UserError(f"vector op kind(s) {', '.join(unknown)} have no cycles per element in "
                            f"tech.vector_cycles_per_element; add them (known: {', '.join(sorted(table))})")
        return np.array([table[str(u)] if u else 0.0 for u in uniq], dtype=float)[inv]


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
