"""Per-component energy: mac, register_file, l2, glb, dram, vector, leakage sum to the total, per config."""

from __future__ import annotations

import numpy as np
import pytest

from catransformers.hardware import HardwareSpace, Tech, estimate
from catransformers.hardware.estimate import ENERGY_KEYS
from catransformers.models import get_model
from catransformers.workload import build_workload

_SPACE = HardwareSpace(clusters=[1, 4], width=[32, 256], depth=[4, 32], l2_kb=[64, 1024], l2_bw=[32, 128],
                       glb_mb=[2, 8], node_nm=[22, 7])


@pytest.fixture(scope="module")
def work():
    return build_workload(get_model("tinyclip-8m-16"))


@pytest.mark.parametrize("timing", ["scalesim", "pipelined", "ideal"])
def test_breakdown_sums_to_total_on_every_config(work, timing: str) -> None:
    est = estimate(work, _SPACE.grid(), Tech(rf_read_energy_pj=0.5), timing=timing)
    assert tuple(est.energy_breakdown_j) == ENERGY_KEYS
    total = sum(est.energy_breakdown_j.values())
    assert np.allclose(total, est.energy_j, rtol=1e-12)
    assert np.allclose(total - est.energy_breakdown_j["leakage"], est.dynamic_energy_j, rtol=1e-12)
    for key, value in est.energy_breakdown_j.items():
        assert value.shape == est.energy_j.shape and np.all(value >= 0), key
    assert np.allclose(est.energy_breakdown_j["leakage"], est.leakage_w * est.latency_s)


def test_default_has_no_register_file_term_and_rf_energy_is_linear(work) -> None:
    grid = _SPACE.grid()
    base = estimate(work, grid, Tech())
    assert np.all(base.energy_breakdown_j["register_file"] == 0)
    one = estimate(work, grid, Tech(rf_read_energy_pj=1.0, scale_by_node=False))
    two = estimate(work, grid, Tech(rf_read_energy_pj=2.0, scale_by_node=False))
    assert np.allclose(two.energy_breakdown_j["register_file"], 2 * one.energy_breakdown_j["register_file"])
    # 3 reads + 1 write (4/3 of a read) per MAC
    assert one.energy_breakdown_j["register_file"][0] == pytest.approx(work.total_macs() * (3 + 4 / 3) * 1e-12)
    flat = estimate(work, grid, Tech(scale_by_node=False))
    for key in ("mac", "l2", "glb", "dram", "vector", "leakage"):  # the RF figure moves only its own term
        assert np.allclose(one.energy_breakdown_j[key], flat.energy_breakdown_j[key])


def test_mac_term_is_macs_times_energy_plus_partial_sum_adds(work) -> None:
    grid = HardwareSpace(clusters=[1], width=[64], depth=[4096], l2_kb=[512], l2_bw=[64], glb_mb=[4]).grid()
    tech = Tech(mac_energy_pj=2.2, accumulate_energy_pj=0.0)  # one K fold everywhere: no partial-sum adds
    est = estimate(work, grid, tech)
    assert est.energy_breakdown_j["mac"][0] == pytest.approx(work.total_macs() * 2.2e-12)


def test_sram_scale_and_dram_energy_move_only_their_terms(work) -> None:
    grid = _SPACE.grid()
    base = estimate(work, grid, Tech())
    scaled = estimate(work, grid, Tech(sram_energy_scale=2.0, lpddr_pj_per_bit=16.0))
    for key in ("l2", "glb", "dram"):
        assert np.allclose(scaled.energy_breakdown_j[key], 2 * base.energy_breakdown_j[key])
    for key in ("mac", "register_file", "vector", "leakage"):
        assert np.allclose(scaled.energy_breakdown_j[key], base.energy_breakdown_j[key])


def test_per_op_energy_sums_to_the_total(work) -> None:
    grid = HardwareSpace(clusters=[2], width=[128], depth=[16], l2_kb=[256], l2_bw=[64], glb_mb=[4]).grid()
    est = estimate(work, grid, Tech(rf_read_energy_pj=0.3), per_op=True)
    assert est.op_energy_j[:, 0].sum() == pytest.approx(est.energy_j[0], rel=1e-12)
