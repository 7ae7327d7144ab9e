"""evaluate_designs: columns, feasibility, vectorised == per-config, and properties that must hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from catransformers.cost import CostSettings, breakdown, estimate_design, evaluate_designs
from catransformers.errors import UserError
from catransformers.hardware import HardwareSpace, parse_hw
from catransformers.models import get_model, parse_prune, prune_spec

SPEC = get_model("clip-vit-b-16")
HW = "clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2"


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    return evaluate_designs(SPEC, HardwareSpace())


def test_full_grid_columns_and_constraints(grid: pd.DataFrame) -> None:
    assert len(grid) == 3240
    for col in ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb", "latency_s", "energy_per_inference_j",
                "area_mm2", "tops", "embodied_die_kg", "embodied_dram_kg", "embodied_kg", "operational_kg",
                "total_carbon_kg", "bound", "feasible", "ok_tops", "ok_area", "ok_latency"):
        assert col in grid.columns
    assert set(grid.bound) <= {"compute", "l2", "glb", "dram"}
    assert np.allclose(grid.tops, grid.clusters * grid.width * grid.depth * 2 * 625e6 / 1e12)
    assert (grid.ok_tops == (grid.tops <= 20.48)).all()
    assert (grid.ok_latency == (grid.latency_s <= 0.050)).all()
    assert grid.ok_dram_capacity.all()  # 150 M int8 parameters fit 1 GB
    assert (grid.feasible == (grid.ok_tops & grid.ok_area & grid.ok_latency & grid.ok_dram_capacity)).all()
    assert np.allclose(grid.total_carbon_kg, grid.embodied_die_kg + grid.embodied_dram_kg + grid.operational_kg)
    assert np.allclose(grid.embodied_die_kg, grid.area_mm2 / 100 * 1576.816 / 1000)
    assert 0 < grid.feasible.sum() < len(grid)


def test_removed_constraints_make_everything_feasible() -> None:
    s = CostSettings(constraints={"max_tops": None, "max_area_mm2": None, "max_latency_ms": None})
    df = evaluate_designs(SPEC, HardwareSpace(width=[32], depth=[2, 64]), s)
    assert df.feasible.all()


def test_single_config_equals_its_grid_row(grid: pd.DataFrame) -> None:
    cfg = parse_hw(HW)
    one = evaluate_designs(SPEC, cfg).iloc[0]
    sel = grid[(grid.clusters == 1) & (grid.width == 256) & (grid.depth == 8) & (grid.l2_kb == 64)
               & (grid.l2_bw == 128) & (grid.glb_mb == 2)].iloc[0]
    for col in ("latency_s", "energy_per_inference_j", "area_mm2", "total_carbon_kg"):
        assert one[col] == pytest.approx(sel[col], rel=1e-12)
    frame = evaluate_designs(SPEC, pd.DataFrame([{"clusters": 1, "width": 256, "depth": 8, "l2_kb": 64,
                                                  "l2_bw": 128, "glb_mb": 2}]))
    assert frame.latency_s.iloc[0] == pytest.approx(one.latency_s, rel=1e-12)


def test_breakdown_sums_to_the_totals() -> None:
    cfg = parse_hw(HW)
    parts = breakdown(SPEC, cfg)
    row = evaluate_designs(SPEC, cfg).iloc[0]
    assert parts.latency_s.sum() == pytest.approx(row.latency_s, rel=1e-9)
    assert parts.energy_j.sum() == pytest.approx(row.energy_per_inference_j, rel=1e-9)
    assert set(parts.component) == {"attn_proj", "attn_score", "ffn", "vector", "embed"}
    out = estimate_design(SPEC, cfg)
    assert sum(out["shares"].values()) == pytest.approx(1.0)
    assert out["usage"]["total_inferences"] == 23_652_000


def test_more_dram_bandwidth_never_more_latency() -> None:
    space = HardwareSpace(dram_bw_gbps=[3.2, 6.4, 12.8, 25.6, 102.4])
    df = evaluate_designs(SPEC, space)
    lat = df.latency_s.to_numpy().reshape(-1, 5)  # dram_bw varies fastest in the grid
    assert np.all(np.diff(lat, axis=1) <= 1e-15)
    assert np.any(np.diff(lat, axis=1) < 0)


def test_more_l2_bandwidth_never_more_latency(grid: pd.DataFrame) -> None:
    lat = grid.sort_values(["clusters", "width", "depth", "l2_kb", "glb_mb", "l2_bw"]).latency_s.to_numpy()
    assert np.all(np.diff(lat.reshape(-1, 3), axis=1) <= 1e-15)


def test_pruned_model_never_slower_on_the_same_hardware(grid: pd.DataFrame) -> None:
    pruned = prune_spec(SPEC, parse_prune(SPEC, "text.layers=8,text.ffn_blocks=6,vision.heads=8,"
                                                "vision.hidden_blocks=6,vision.layers=10"))
    small = evaluate_designs(pruned, HardwareSpace())
    assert np.all(small.latency_s.to_numpy() <= grid.latency_s.to_numpy())
    assert np.all(small.energy_per_inference_j.to_numpy() <= grid.energy_per_inference_j.to_numpy())


def test_causal_lm_decode_adds_latency() -> None:
    spec = get_model("smollm2-135m")
    cfg = parse_hw(HW)
    base = evaluate_designs(spec, cfg, CostSettings(workload={"prefill_tokens": 32})).latency_s.iloc[0]
    more = evaluate_designs(spec, cfg, CostSettings(workload={"prefill_tokens": 32, "decode_tokens": 8}))
    assert more.latency_s.iloc[0] > base
    # every single-token step re-reads all layer weights from DRAM (30 layers of 576-wide Llama blocks)
    layer_bytes = 30 * (576 * 576 * 2 + 2 * 576 * 192 + 3 * 576 * 1536)
    base_dram = evaluate_designs(spec, cfg, CostSettings(workload={"prefill_tokens": 32}))
    extra = more.dram_bytes_per_inference.iloc[0] - base_dram.dram_bytes_per_inference.iloc[0]
    assert extra >= 8 * layer_bytes


def test_bad_hardware_tables_are_user_errors() -> None:
    with pytest.raises(UserError, match="lacks column"):
        evaluate_designs(SPEC, pd.DataFrame([{"clusters": 1}]))
    with pytest.raises(UserError, match="zero, negative"):
        evaluate_designs(SPEC, pd.DataFrame([{"clusters": 1, "width": 0, "depth": 8, "l2_kb": 64, "l2_bw": 128,
                                              "glb_mb": 2}]))
    with pytest.raises(UserError, match="has no values"):
        HardwareSpace(width=[])
    with pytest.raises(UserError, match="width"):
        HardwareSpace(width=[0, 32])


def test_sweep_front_by_hand() -> None:
    """The sweep's carbon-latency front (shared report.pareto_mask, both minimised, ties kept once)."""
    from catransformers.report.pareto import pareto_mask

    x = np.array([1.0, 2.0, 3.0, 2.0, 4.0])
    y = np.array([5.0, 3.0, 4.0, 3.0, 1.0])
    mask = pareto_mask(np.column_stack([x, y]), [False, False], keep_duplicates=False)
    assert mask.tolist() == [True, True, False, False, True]


def test_dram_capacity_constraint() -> None:
    spec = get_model("llama-3-8b")
    space = HardwareSpace(clusters=[4], width=[128], depth=[32], l2_kb=[512], l2_bw=[128], glb_mb=[2], dram_gb=[1, 16])
    settings = CostSettings(workload={"prefill_tokens": 16}, constraints={"max_latency_ms": None})
    df = evaluate_designs(spec, space, settings)
    assert df.ok_dram_capacity.tolist() == [False, True]  # 8.0 G int8 parameters
    assert df.feasible.tolist() == [False, True]
