"""Die area of template configs, vectorised: PEs + vector lanes + SRAM instances + per-cluster overhead.

Calibration (DESIGN §6 paper-flow facts; all figures 22 nm):
  PE 380 um2; SRAM instances from the paper's flow (L2 64 KB 0.106 mm2, 1 MB 1.642; GLB 2 MB 3.101, 8 MB 12.235).
  smallest 1x32x2, 64 KB, 2 MB: 64 PEs x 380 um2 = 0.0243 + 0.106 + 3.101 = 3.2315 mm2 + 32 lanes + 1 cluster
  largest  4x256x64, 1 MB, 8 MB: 65,536 x 380 um2 = 24.904 + 4 x 1.642 + 12.235 = 43.707 mm2 + 1,024 lanes + 4 clusters
  Solving both exactly for (lane, overhead) gives a negative overhead, so the overhead is fixed at a plausible
  0.02 mm2 per cluster (controller + DMA, stated assumption) and the lane area chosen to split the error evenly:
  (3.2515 + 32 a) / 3.35 - 1 = -((43.787 + 1024 a) / 50.7 - 1)  ->  a = 0.16575 / 29.749 mm2 = 5,572 um2,
  giving 3.4293 mm2 (+2.4 %) and 49.493 mm2 (-2.4 %). L2 bandwidth adds no area (as in the paper's flow).
"""

from __future__ import annotations

import numpy as np

from catransformers.hardware.tech import Tech, sram_area_mm2


def area_parts_mm2(hw: dict[str, np.ndarray], tech: Tech) -> dict[str, np.ndarray]:
    """Area per component (mm2) for columnar configs `hw` (see HardwareSpace.grid())."""
    clusters = np.asarray(hw["clusters"], dtype=float)
    width = np.asarray(hw["width"], dtype=float)
    depth = np.asarray(hw["depth"], dtype=float)
    bits = np.asarray(hw["precision_bits"], dtype=float)
    s = tech.area_scale
    pe_scale = bits / 8.0  # stated assumption: PE (multiplier + register) area ~ linear in operand bits
    return {
        "pe_mm2": s * clusters * width * depth * tech.pe_area_um2 * 1e-6 * pe_scale,
        "vector_mm2": s * clusters * width * tech.vector_lane_area_um2 * 1e-6,
        "l2_mm2": s * clusters * sram_area_mm2(np.asarray(hw["l2_kb"], dtype=float)),
        "glb_mm2": s * sram_area_mm2(np.asarray(hw["glb_mb"], dtype=float) * 1024.0),
        "overhead_mm2": s * clusters * tech.cluster_overhead_mm2,
    }


def area_mm2(hw: dict[str, np.ndarray], tech: Tech) -> np.ndarray:
    """Total die area (mm2) for columnar configs."""
    return sum(area_parts_mm2(hw, tech).values())
