"""Memory as part of the design: parts from the technology table, on-chip-only designs, memory chosen per design."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from catransformers.cost import CostSettings, evaluate_designs, sweep_designs
from catransformers.errors import UserError
from catransformers.hardware import HardwareConfig, HardwareSpace
from catransformers.models import get_model, parse_prune, prune_spec
from catransformers.workload.resident import resident_bytes

BASE = {"clusters": 1, "width": 64, "depth": 16, "l2_kb": 128, "l2_bw": 128, "glb_mb": 2}


def _row(spec, **hw):
    return evaluate_designs(spec, HardwareConfig(**(BASE | hw))).iloc[0]


def test_default_dram_is_two_lpddr3_channels_at_12_8_gbps():
    row = _row(get_model("minilm-l6"))
    assert row["dram_type"] == "lpddr3_20nm" and row["dram_channels"] == 2
    assert row["dram_bw_gbps"] == pytest.approx(12.8)  # 2 x 1600 MT/s x 32 bit (JEDEC JESD209-3)
    assert row["dram_pj_per_bit"] == pytest.approx(8.0)


def test_bandwidth_and_energy_follow_the_technology_unless_given():
    spec = get_model("minilm-l6")
    lp4 = _row(spec, dram_type="lpddr4", dram_gb=0.25)
    assert lp4["dram_channels"] == 1  # a 0.25 GB LPDDR4 part is one x16 channel
    given = _row(spec, dram_type="lpddr4", dram_gb=0.25, dram_bw_gbps=25.6)
    assert given["dram_bw_gbps"] == pytest.approx(25.6) and given["latency_s"] <= lp4["latency_s"]
    ddr = _row(spec, dram_type="ddr4", dram_gb=1.0)
    assert ddr["dram_pj_per_bit"] > lp4["dram_pj_per_bit"]  # DDR4 costs more per bit than LPDDR4
    assert ddr["energy_dram_j"] > 0 and lp4["embodied_dram_kg"] < _row(spec)["embodied_dram_kg"]


def test_on_chip_only_has_no_dram_time_energy_or_carbon_and_must_fit():
    spec = prune_spec(get_model("minilm-l6"), parse_prune(get_model("minilm-l6"), "layers=3,hidden_blocks=8"))
    fits = _row(spec, glb_mb=16, dram_gb=0)
    assert fits["dram_type"] == "none" and fits["embodied_dram_kg"] == 0 and fits["energy_dram_j"] == 0
    assert fits["dram_bytes_per_inference"] == 0 and fits["ok_dram_capacity"]
    assert not _row(spec, glb_mb=2, dram_gb=0)["ok_dram_capacity"]  # ~9 MB of weights do not fit 2 MB
    with pytest.raises(ValidationError, match="on-chip-only"):
        HardwareConfig(**(BASE | {"dram_type": "lpddr4", "dram_gb": 0}))


def test_memory_auto_tries_the_smallest_part_the_next_and_on_chip():
    spec = get_model("minilm-l6")
    space = HardwareSpace(clusters=[1], width=[64], depth=[16], l2_kb=[128], l2_bw=[128], glb_mb=[2, 32],
                          memory=["auto"])
    df = evaluate_designs(spec, space)
    need_gb = float(resident_bytes(spec, CostSettings().workload, 8)) / 1024**3
    dram = df[df.dram_type != "none"]
    assert (dram.dram_gb >= need_gb).all()  # every candidate part holds the model
    assert set(df.memory_candidate) == {"smallest", "next", "on_chip"}
    on_chip = df[df.dram_type == "none"]
    assert (on_chip.glb_mb == 32).all()  # 22.7 MB of weights fit only the 32 MB buffer
    assert len(df) == 2 * 2 * 5 + 1  # 2 GLBs x 5 LPDDR technologies x 2 parts, + on chip once


def test_memory_auto_moves_the_min_carbon_far_below_a_fixed_gigabyte():
    spec = get_model("minilm-l6")
    fixed = sweep_designs(spec, HardwareSpace()).best["min_carbon"]
    auto = sweep_designs(spec, HardwareSpace(memory=["auto"])).best["min_carbon"]
    assert auto["total_carbon_kg"] < 0.5 * fixed["total_carbon_kg"]
    assert auto["dram_gb"] < 1.0


def test_memory_list_and_dram_lists_are_exclusive():
    with pytest.raises(UserError, match="chooses the DRAM per design"):
        HardwareSpace(memory=["auto"], dram_gb=[0.5])


def test_fleet_totals_scale_the_per_device_total():
    spec = get_model("minilm-l6")
    one = evaluate_designs(spec, HardwareConfig(**BASE)).iloc[0]
    fleet = evaluate_designs(spec, HardwareConfig(**BASE), CostSettings(carbon={"fleet_size": 1000})).iloc[0]
    assert fleet["total_carbon_kg"] == pytest.approx(one["total_carbon_kg"])
    assert fleet["fleet_total_carbon_kg"] == pytest.approx(1000 * one["total_carbon_kg"])
    assert np.isfinite(fleet["fleet_total_carbon_kg"])


def test_the_size_of_a_space_counts_only_the_points_its_grid_keeps():
    space = HardwareSpace(clusters=[1], width=[32, 64], depth=[8], l2_kb=[64], l2_bw=[64], glb_mb=[2],
                          dram_type=["lpddr4", "none"], dram_gb=[0, 1])
    assert len(space) == len(space.grid()["clusters"]) == 2 * 2  # lpddr4 1 GB and none 0 GB, per width
    assert len(HardwareSpace()) == len(HardwareSpace().grid()["clusters"]) == 3240
