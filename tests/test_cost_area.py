"""Area model: calibration to the paper-flow extremes, monotonicity, L2 bandwidth has no area."""

from __future__ import annotations

import numpy as np
import pytest

from catransformers.hardware import HardwareConfig, HardwareSpace, Tech, area_mm2
from catransformers.hardware.tech import SRAM_AREA_KB, SRAM_AREA_MM2, sram_area_mm2


def _area(**kw) -> float:
    return float(area_mm2(HardwareConfig(**kw).columns(), Tech())[0])


def test_calibration_extremes_within_5_percent() -> None:
    small = _area(clusters=1, width=32, depth=2, l2_kb=64, l2_bw=32, glb_mb=2)
    large = _area(clusters=4, width=256, depth=64, l2_kb=1024, l2_bw=128, glb_mb=8)
    assert small == pytest.approx(3.35, rel=0.05)
    assert large == pytest.approx(50.7, rel=0.05)


def test_hand_computed_area() -> None:
    # 2 x 64 x 16 PEs x 380 um2 + 128 lanes x 5572 um2 + 2 x 256 KB (0.448) + 4 MB GLB (6.208) + 2 x 0.02
    expected = 2048 * 380e-6 + 128 * 5572e-6 + 2 * 0.448 + 6.208 + 2 * 0.02
    assert _area(clusters=2, width=64, depth=16, l2_kb=256, l2_bw=64, glb_mb=4) == pytest.approx(expected, rel=1e-9)


def test_sram_table_points_are_reproduced_and_area_is_monotone() -> None:
    assert np.allclose(sram_area_mm2(SRAM_AREA_KB), SRAM_AREA_MM2)
    sizes = np.geomspace(8, 64 * 1024, 400)
    assert np.all(np.diff(sram_area_mm2(sizes)) > 0)


def test_bigger_sram_never_less_area_and_l2_bw_changes_nothing() -> None:
    grid = HardwareSpace(l2_kb=[64, 96, 128, 256, 512, 1024, 1536], glb_mb=[1, 2, 3, 4, 8, 16]).grid()
    area = area_mm2(grid, Tech())
    keys = ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb")
    table = {tuple(float(grid[k][i]) for k in keys): area[i] for i in range(len(area))}
    for (c, w, d, l2, bw, glb), a in table.items():
        assert a == table[(c, w, d, l2, 32.0, glb)]  # l2_bw does not change area
        for bigger in (96, 128, 256, 512, 1024, 1536):
            if bigger > l2:
                assert table[(c, w, d, float(bigger), bw, glb)] > a
        for bigger in (2, 3, 4, 8, 16):
            if bigger > glb:
                assert table[(c, w, d, l2, bw, float(bigger))] > a
