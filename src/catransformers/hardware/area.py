"""Die area of template configs, vectorised: PEs + vector lanes + SRAM instances by role + per-cluster overhead.

area = clusters x (width x depth x a_pe + width x a_lane + n_l2 x SRAM(l2_kb) + a_cluster) + n_glb x SRAM(glb_mb),
with the SRAM instance areas of tech.py (the paper flow's CACTI instances, log-log interpolated in size) and the
terms fitted on the paper flow's 60 given points (tech.py: PE 380.3 um2, lane 379.7 um2, 2 L2 instances per
cluster, 1 GLB, no per-cluster overhead): median |error| 0.01 %, max 3.5 % there. L2 bandwidth adds no area
(as in that flow). Logic and SRAM then scale separately from 22 nm to the config's `node_nm` (node.py).
Every term is non-negative and increasing in its size, so area never shrinks when a size grows.
"""

from __future__ import annotations

import numpy as np

from catransformers.hardware.node import node_factors
from catransformers.hardware.tech import Tech, sram_area_mm2


def area_parts_mm2(hw: dict[str, np.ndarray], tech: Tech, at_node: bool = True) -> dict[str, np.ndarray]:
    """Area per component (mm2) for columnar configs `hw` (see HardwareSpace.grid()).

    `at_node=False` gives the 22 nm areas (what leakage densities are quoted against).
    """
    clusters = np.asarray(hw["clusters"], dtype=float)
    width = np.asarray(hw["width"], dtype=float)
    depth = np.asarray(hw["depth"], dtype=float)
    bits = np.asarray(hw["precision_bits"], dtype=float)
    node = np.asarray(hw.get("node_nm", np.full(clusters.shape, 22)))
    f = node_factors(node, tech.scale_by_node and at_node)
    logic, sram = tech.area_scale * f["logic_area"], tech.area_scale * tech.sram_area_scale * f["sram_area"]
    pe_scale = bits / 8.0  # stated assumption: PE (multiplier + register) area ~ linear in operand bits
    return {
        "pe_mm2": logic * clusters * width * depth * tech.pe_area_um2 * 1e-6 * pe_scale,
        "vector_mm2": logic * clusters * width * tech.vector_lane_area_um2 * 1e-6,
        "l2_mm2": sram * clusters * tech.l2_instances_per_cluster * sram_area_mm2(np.asarray(hw["l2_kb"], float)),
        "glb_mm2": sram * tech.glb_instances * sram_area_mm2(np.asarray(hw["glb_mb"], dtype=float) * 1024.0),
        "overhead_mm2": logic * clusters * tech.cluster_overhead_mm2,
    }


def area_mm2(hw: dict[str, np.ndarray], tech: Tech) -> np.ndarray:
    """Total die area (mm2) for columnar configs."""
    return sum(area_parts_mm2(hw, tech).values())
