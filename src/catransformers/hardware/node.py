"""Technology-node scaling of area, dynamic energy and leakage, relative to the 22 nm tables of tech.py.

Logic (PEs, vector lanes, per-cluster logic): Stillmaker & Baas, "Scaling equations for the accurate prediction
of CMOS device performance from 180 nm to 7 nm", Integration 58 (2017): their area factors and their
energy-per-operation polynomials evaluated at each node's nominal supply; nodes between their table's points
(28 and 22 nm lie between 32 and 20 nm) are interpolated log-log.
Below 7 nm (stated method): chain the foundry's published node-to-node gains of TSMC N5 over N7 (1.84x logic
density, 30 % less power at iso-speed; Yeap et al., IEDM 2019) and of N3 over N5 (1.7x logic density, 25-30 % less
power, TSMC Technology Symposium 2020; 27.5 % taken).
SRAM (L2, GLB) scales separately, by the published high-density 6T bit-cell area of each node (the macro assumed
to scale with its cell), and its access energy by the logic energy factor x sqrt(SRAM area / logic area factor):
bit-line and word-line capacitance follow the array's linear size (stated assumption).
Leakage per device is assumed to scale like the dynamic energy factor (stated assumption; static power density
per mm2 then rises at newer nodes, as observed).
DRAM is off chip: not scaled. ACT's embodied carbon per node stays in carbon/.
"""

from __future__ import annotations

import numpy as np

REFERENCE_NODE_NM = 22

# Stillmaker & Baas 2017, area factor from 45 nm to each node (their Table of area scaling, row 45 nm).
_SB_AREA_FROM_45NM = {45: 1.0, 32: 0.46, 20: 0.21, 16: 0.19, 14: 0.17, 10: 0.1, 7: 0.059}
# Stillmaker & Baas 2017, energy per operation vs supply: a*V^2 + b*V + c (normalised to 45 nm at 1.0 V).
_SB_ENERGY_POLY = {
    45: (1.103, -0.362, 0.2767), 32: (0.9559, -0.7823, 0.471), 20: (0.373, -0.1582, 0.04104),
    16: (0.2958, -0.1241, 0.03024), 14: (0.2363, -0.09675, 0.02239), 10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}
# Nominal supply (V) of the PTM models Stillmaker & Baas use per node.
_SB_VDD_V = {45: 1.0, 32: 0.9, 20: 0.9, 16: 0.85, 14: 0.8, 10: 0.75, 7: 0.7}
# Below 7 nm: (area factor, energy factor) from the node above, TSMC as cited in the module doc.
_BELOW_7NM = {5: (7, 1 / 1.84, 0.70), 3: (5, 1 / 1.7, 0.725)}
# High-density 6T SRAM bit-cell area (um2) per node: 28 nm TSMC 0.127 (Wu et al., IEDM 2010); 22 nm Intel 0.092
# (Jan et al., IEDM 2012); 20 nm TSMC 20SoC 0.081 (Shang et al., IEDM 2012); 14 nm Intel 0.0588 (Natarajan et al.,
# IEDM 2014); 10 nm Intel 0.0312 (Auth et al., IEDM 2017); 7 nm TSMC 0.027 (Wu et al., IEDM 2016); 5 nm TSMC 0.021
# (Yeap et al., IEDM 2019); 3 nm TSMC N3 0.0199 (Chang et al., ISSCC 2023).
SRAM_BITCELL_UM2 = {28: 0.127, 22: 0.092, 20: 0.081, 14: 0.0588, 10: 0.0312, 7: 0.027, 5: 0.021, 3: 0.0199}


def _sb_energy(node: int) -> float:
    a, b, c = _SB_ENERGY_POLY[node]
    v = _SB_VDD_V[node]
    return a * v * v + b * v + c


def _interp(node: float, table: dict[int, float]) -> float:
    """Log-log interpolation between the two table nodes around `node`."""
    if node in table:
        return table[node]
    nodes = sorted(table)
    hi = min(n for n in nodes if n > node)
    lo = max(n for n in nodes if n < node)
    slope = np.log(table[hi] / table[lo]) / np.log(hi / lo)
    return float(table[lo] * (node / lo) ** slope)


def _logic_from_45(node: int) -> tuple[float, float]:
    """(area, energy) factor of logic at `node` relative to 45 nm at 1.0 V."""
    if node in _BELOW_7NM:
        above, area, energy = _BELOW_7NM[node]
        a, e = _logic_from_45(above)
        return a * area, e * energy
    energy = {n: _sb_energy(n) for n in _SB_ENERGY_POLY}
    return _interp(node, _SB_AREA_FROM_45NM), _interp(node, energy)


def node_factors_scalar(node_nm: int) -> dict[str, float]:
    """Scaling factors from 22 nm to `node_nm`: logic_area, logic_energy, sram_area, sram_energy, leakage."""
    la, le = _logic_from_45(int(node_nm))
    ra, re = _logic_from_45(REFERENCE_NODE_NM)
    logic_area, logic_energy = la / ra, le / re
    sram_area = SRAM_BITCELL_UM2[int(node_nm)] / SRAM_BITCELL_UM2[REFERENCE_NODE_NM]
    sram_energy = logic_energy * float(np.sqrt(sram_area / logic_area))
    return {"logic_area": logic_area, "logic_energy": logic_energy, "sram_area": sram_area,
            "sram_energy": sram_energy, "logic_leakage": logic_energy, "sram_leakage": sram_energy}


def node_factors(node_nm: np.ndarray, enabled: bool = True) -> dict[str, np.ndarray]:
    """Per-config factors (arrays like `node_nm`); all ones when `enabled` is False."""
    nodes = np.asarray(node_nm).astype(int)
    uniq, inv = np.unique(nodes, return_inverse=True)
    keys = ("logic_area", "logic_energy", "sram_area", "sram_energy", "logic_leakage", "sram_leakage")
    if not enabled:
        return {k: np.ones(nodes.shape) for k in keys}
    rows = [node_factors_scalar(int(n)) for n in uniq]
    return {k: np.array([r[k] for r in rows])[inv].reshape(nodes.shape) for k in keys}
