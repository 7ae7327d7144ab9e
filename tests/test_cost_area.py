"""Area model: fitted to the paper flow's 60 given points, hand arithmetic, never shrinks when a size grows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catransformers.hardware import HW_KEYS, HardwareConfig, HardwareSpace, Tech, area_mm2, area_parts_mm2
from catransformers.hardware.tech import SRAM_AREA_KB, SRAM_AREA_MM2, sram_area_mm2

FIXTURE = Path(__file__).resolve().parents[1] / "benchmarks" / "fixtures" / "paper_flow_area_calibration.csv"


def _area(**kw) -> float:
    return float(area_mm2(HardwareConfig(**kw).columns(), Tech())[0])


def test_given_paper_flow_points_within_targets() -> None:
    pts = pd.read_csv(FIXTURE, comment="#")
    assert len(pts) == 60
    n = len(pts)
    hw = {k: pts[k].to_numpy() for k in ("clusters", "width", "depth", "l2_kb", "glb_mb")}
    hw |= {"precision_bits": np.full(n, 8), "node_nm": np.full(n, 22)}
    err = np.abs(area_mm2(hw, Tech()) / pts.area_mm2.to_numpy() - 1)
    assert np.median(err) <= 0.03
    assert err.max() <= 0.10


def test_hand_computed_area() -> None:
    # 2 x 64 x 16 PEs x 380.3 um2 + 128 lanes x 379.7 um2 + 2 clusters x 2 x 256 KB (0.448) + 4 MB GLB (6.208)
    expected = 2048 * 380.3e-6 + 128 * 379.7e-6 + 2 * 2 * 0.448 + 6.208
    assert _area(clusters=2, width=64, depth=16, l2_kb=256, l2_bw=64, glb_mb=4) == pytest.approx(expected, rel=1e-9)


def test_parts_sum_and_overhead_term() -> None:
    cols = HardwareConfig(clusters=4, width=128, depth=8, l2_kb=128, l2_bw=32, glb_mb=2).columns()
    tech = Tech(cluster_overhead_mm2=0.05)
    parts = area_parts_mm2(cols, tech)
    assert parts["overhead_mm2"][0] == pytest.approx(4 * 0.05)
    assert area_mm2(cols, tech)[0] == pytest.approx(sum(v[0] for v in parts.values()))


def test_sram_table_points_are_reproduced_and_area_is_monotone() -> None:
    assert np.allclose(sram_area_mm2(SRAM_AREA_KB), SRAM_AREA_MM2)
    sizes = np.geomspace(8, 64 * 1024, 400)
    assert np.all(np.diff(sram_area_mm2(sizes)) > 0)


def test_area_never_shrinks_when_a_size_grows_and_l2_bw_changes_nothing() -> None:
    space = HardwareSpace(clusters=[1, 2, 3, 4], width=[16, 32, 48, 256], depth=[2, 3, 64], l2_kb=[64, 96, 1024, 1536],
                          l2_bw=[32, 128], glb_mb=[1, 2, 3, 16], precision_bits=[4, 8, 16], node_nm=[28, 22, 7])
    shape = [len(getattr(space, k)) for k in HW_KEYS]
    area = area_mm2(space.grid(), Tech()).reshape(shape)  # grid() is the C-order product of HW_KEYS
    for key in ("clusters", "width", "depth", "l2_kb", "glb_mb", "precision_bits"):
        assert np.all(np.diff(area, axis=HW_KEYS.index(key)) > 0), key
    assert np.all(np.diff(area, axis=HW_KEYS.index("l2_bw")) == 0)  # L2 bandwidth adds no area
    assert np.all(np.diff(area, axis=HW_KEYS.index("node_nm")) < 0)  # newer node (28 -> 22 -> 7 nm): smaller


def test_sram_area_scale_moves_only_the_sram_terms() -> None:
    cols = HardwareConfig(clusters=2, width=64, depth=16, l2_kb=256, l2_bw=64, glb_mb=4).columns()
    base, scaled = area_parts_mm2(cols, Tech()), area_parts_mm2(cols, Tech(sram_area_scale=1.5))
    for key in ("l2_mm2", "glb_mm2"):
        assert scaled[key][0] == pytest.approx(1.5 * base[key][0])
    for key in ("pe_mm2", "vector_mm2", "overhead_mm2"):
        assert scaled[key][0] == base[key][0]
