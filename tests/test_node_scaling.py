"""Technology nodes: area, dynamic energy and leakage scale from 22 nm, SRAM separately from logic."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from catransformers.carbon.tables import NODES_NM
from catransformers.hardware import HardwareSpace, Tech, area_mm2, estimate, leakage_w
from catransformers.hardware.node import SRAM_BITCELL_UM2, node_factors, node_factors_scalar
from catransformers.models import get_model
from catransformers.workload import build_workload


def test_reference_node_is_identity_and_every_carbon_node_has_factors() -> None:
    assert all(v == pytest.approx(1.0) for v in node_factors_scalar(22).values())
    assert set(SRAM_BITCELL_UM2) == set(NODES_NM)
    for node in NODES_NM:
        f = node_factors_scalar(node)
        assert all(v > 0 for v in f.values())


def test_factors_fall_monotonically_towards_newer_nodes() -> None:
    rows = [node_factors_scalar(n) for n in sorted(NODES_NM, reverse=True)]  # 28 ... 3
    for key in rows[0]:
        values = [r[key] for r in rows]
        assert all(b < a for a, b in itertools.pairwise(values)), key


def test_stillmaker_baas_points_and_sram_scaling_less_than_logic_below_7nm() -> None:
    f7, f10 = node_factors_scalar(7), node_factors_scalar(10)
    assert f7["logic_area"] / f10["logic_area"] == pytest.approx(0.059 / 0.1)  # their 45 nm row, 10 -> 7 nm
    assert node_factors_scalar(3)["sram_area"] > node_factors_scalar(3)["logic_area"]
    f5 = node_factors_scalar(5)
    assert f5["sram_area"] / f7["sram_area"] > f5["logic_area"] / f7["logic_area"]
    assert node_factors_scalar(7)["sram_area"] == pytest.approx(0.027 / 0.092)


def test_estimate_scales_area_energy_and_leakage_by_node() -> None:
    work = build_workload(get_model("tinyclip-8m-16"))
    grid = HardwareSpace(clusters=[2], width=[128], depth=[16], l2_kb=[256], l2_bw=[64], glb_mb=[4],
                         node_nm=[28, 22, 7, 3]).grid()
    est = estimate(work, grid, Tech())
    assert np.all(np.diff(est.area_mm2) < 0)
    assert np.all(np.diff(est.leakage_w) < 0)
    for key in ("mac", "l2", "glb", "vector"):
        assert np.all(np.diff(est.energy_breakdown_j[key]) < 0), key
    assert np.allclose(est.energy_breakdown_j["dram"], est.energy_breakdown_j["dram"][1])  # off chip: not scaled
    assert np.allclose(est.latency_s, est.latency_s[1])  # same clock, same cycles


def test_scale_by_node_off_keeps_the_22nm_figures() -> None:
    grid = HardwareSpace(clusters=[1], width=[64], depth=[8], l2_kb=[64], l2_bw=[64], glb_mb=[2],
                         node_nm=[22, 7]).grid()
    tech = Tech(scale_by_node=False)
    assert area_mm2(grid, tech)[0] == area_mm2(grid, tech)[1]
    assert leakage_w(grid, tech)[0] == leakage_w(grid, tech)[1]
    assert np.all(node_factors(np.array([7, 3]), enabled=False)["logic_energy"] == 1.0)
