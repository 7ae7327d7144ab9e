"""Propagating the uncertainty table through the cost model: exact against the slow per-sample path, seeded,
ordered quantiles, P50 at the nominal for a centred table, prob_min, the CLI helpers and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from catransformers.carbon.model import CarbonSettings
from catransformers.cost import CostSettings
from catransformers.errors import UserError
from catransformers.hardware import HardwareSpace, Tech
from catransformers.models import get_model
from catransformers.uncertainty import DistributionTable, draw, load_table
from catransformers.uncertainty.propagate import (
    METRICS,
    evaluate_sample_slow,
    evaluate_uncertain,
    max_samples,
    prob_min_carbon,
    summary,
    uncertain_quantiles,
    uncertainty_columns,
)

SPEC = get_model("minilm-l6")
# Six designs across the parts the fast path separates: array shapes, SRAM sizes, nodes (7 nm scales logic and
# SRAM apart), int16 (MAC energy x4 but RF energy x1), LPDDR / DDR / HBM / on-chip-only memory.
MIXED = {
    "clusters": [1, 4, 2, 1, 4, 2], "width": [32, 256, 64, 128, 32, 256], "depth": [2, 64, 8, 16, 32, 4],
    "l2_kb": [64, 1024, 256, 128, 512, 64], "l2_bw": [32, 128, 64, 32, 128, 64], "glb_mb": [2, 8, 4, 2, 8, 4],
    "node_nm": [22, 7, 22, 14, 22, 22], "precision_bits": [8, 8, 16, 8, 8, 8],
    "dram_type": ["lpddr3_20nm", "ddr4_10nm", "lpddr4", "hbm2e", "none", "lpddr5"],
    "dram_gb": [1.0, 2.0, 0.5, 4.0, 0.0, 1.0],
}
SETTINGS = {
    "paper": CostSettings(),
    # idle power over the lifetime, another region, an explicit RF write energy (the RF part is then affine)
    "idle": CostSettings(carbon=CarbonSettings(region="taiwan", include_idle=True),
                         tech=Tech(rf_write_energy_pj=0.02)),
}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))


@pytest.mark.parametrize("name", list(SETTINGS))
def test_exact_against_the_slow_per_sample_path(name):
    settings, n, seed = SETTINGS[name], 12, 3
    res = evaluate_uncertain(SPEC, MIXED, settings, n, seed)
    samples = draw(n, seed)
    for i in (0, 5, n - 1):
        ref = evaluate_sample_slow(SPEC, MIXED, settings, samples, i)
        for key, want in ref.items():
            assert _rel(res.samples_of(key)[i], want) < 1e-9, (key, i)
    # the samples really differ (a fast path that ignored the draws would pass the check above only at i = 0)
    assert np.ptp(res.total_carbon_kg, axis=0).min() > 0


def test_same_seed_same_arrays_other_seed_other_arrays():
    a = evaluate_uncertain(SPEC, MIXED, None, 20, 7)
    b = evaluate_uncertain(SPEC, MIXED, None, 20, 7)
    c = evaluate_uncertain(SPEC, MIXED, None, 20, 8)
    for metric in METRICS:
        assert np.array_equal(a.samples_of(metric), b.samples_of(metric))
    assert not np.array_equal(a.total_carbon_kg, c.total_carbon_kg)
    assert np.array_equal(a.latency_s, c.latency_s)  # nothing uncertain touches timing


def test_quantiles_are_ordered_and_latency_is_fixed():
    res = evaluate_uncertain(SPEC, HardwareSpace(), None, 64, 1)
    q = uncertain_quantiles(res)
    for metric in METRICS:
        assert np.all(q[f"{metric}_p05"] <= q[f"{metric}_p50"]) and np.all(q[f"{metric}_p50"] <= q[f"{metric}_p95"])
    assert np.all(q["total_carbon_kg_p05"] < q["total_carbon_kg_p95"])  # a real band, not a point
    nominal_latency = res.nominal["latency_s"].to_numpy()
    for p in ("p05", "p50", "p95"):
        assert np.array_equal(q[f"latency_s_{p}"], nominal_latency)


def _centred_table(spread: float = 0.1) -> DistributionTable:
    """Every figure triangular and symmetric (+-spread) around the default settings' value (RF energy left out:
    its nominal is 0)."""
    tech, carbon = Tech(), CarbonSettings()
    absolute = {"tech.mac_energy_pj": tech.mac_energy_pj, "tech.sram_leak_mw_per_mb": tech.sram_leak_mw_per_mb,
                "tech.logic_leak_mw_per_mm2": tech.logic_leak_mw_per_mm2, "tech.pe_area_um2": tech.pe_area_um2,
                "carbon.fab_yield": carbon.fab_yield, "carbon.lifetime_years": carbon.lifetime_years}
    factors = ("tech.sram_energy_scale", "tech.sram_area_scale", "dram.pj_per_bit", "dram.g_per_gb",
               "carbon.fab_ci_g_per_kwh", "carbon.ci_g_per_kwh")
    common = {"unit": "test", "distribution": "triangular", "why": "centred on the nominal", "sources": ["this test"]}
    figure = {k: common | {"kind": "absolute", "low": v * (1 - spread), "mode": v, "high": v * (1 + spread),
                           "nominal": v} for k, v in absolute.items()}
    figure |= {k: common | {"kind": "factor", "low": 1 - spread, "mode": 1.0, "high": 1 + spread, "nominal": 1.0}
               for k in factors}
    return DistributionTable.model_validate({"figure": figure})


def test_p50_is_the_nominal_design_when_the_table_is_centred_on_it():
    """Within 2 %. Why not exact: the outputs are sums of products of the draws (energy x intensity x lifetime,
    area x g/cm2 / yield), and the median of a product of independent symmetric draws sits below the product of
    their medians by about sum(sigma^2)/2 (sigma ~ 4 % for +-10 % triangular: ~0.3 %); 1/yield adds Jensen's
    +var/yield^2 ~ 0.2 %; and a median from N = 400 samples has a standard error of ~1.25 sigma_out / sqrt(N) ~
    0.45 % for the three-factor operational carbon (sigma_out ~ 7 %). 2 % leaves four standard errors. A wrong
    base or a mixed-up absolute / factor draw moves P50 by 10 % or more."""
    res = evaluate_uncertain(SPEC, HardwareSpace(), None, 400, 11, _centred_table())
    q = uncertain_quantiles(res)
    for metric in ("total_carbon_kg", "operational_kg", "embodied_kg", "energy_per_inference_j"):
        nominal = res.nominal[metric].to_numpy()
        assert _rel(q[f"{metric}_p50"], nominal) < 0.02, metric
        assert np.median(q[f"{metric}_p95"] / q[f"{metric}_p05"]) > 1.05, metric  # the band is there


def test_prob_min_sums_to_one_and_summary_is_json():
    res = evaluate_uncertain(SPEC, HardwareSpace(), None, 50, 2)
    front = [0, 17, 400, 1203, 3000]
    p = prob_min_carbon(res, front)
    assert p.shape == (5,) and p.sum() == pytest.approx(1.0) and np.all(p >= 0)
    assert prob_min_carbon(res).sum() == pytest.approx(1.0)
    out = json.loads(json.dumps(summary(res, front)))
    assert [d["design"] for d in out["front"]] == front
    assert sum(d["prob_min_carbon"] for d in out["front"]) == pytest.approx(1.0)
    assert -1.0 <= out["rank_stability"] <= 1.0 and out["samples"] == 50 and out["seed"] == 2
    nominal = res.nominal["total_carbon_kg"].to_numpy()[front]
    assert out["nominal_min_carbon_design"] == front[int(np.argmin(nominal))]
    # the same design twice: a tie in every sample, shared
    tie = prob_min_carbon(res, [17, 17])
    assert tie.tolist() == [0.5, 0.5]


def test_uncertainty_columns_by_position_and_by_front_labels():
    res = evaluate_uncertain(SPEC, HardwareSpace(), None, 30, 4)
    table = uncertainty_columns(res.nominal, res)
    for metric in METRICS:
        for p in ("p05", "p50", "p95"):
            assert f"{metric}_{p}" in table.columns
    assert table["prob_area_ok"].between(0, 1).all()
    front = res.nominal.iloc[[5, 2, 900]]
    sub = uncertainty_columns(front, res)
    assert sub["total_carbon_kg_p50"].tolist() == table["total_carbon_kg_p50"].iloc[[5, 2, 900]].tolist()


def test_an_area_cap_gives_the_probability_of_fitting():
    settings = CostSettings(constraints={"max_area_mm2": 10.0})
    res = evaluate_uncertain(SPEC, HardwareSpace(), settings, 40, 0)
    ok = res.prob_area_ok()
    nominal_area = res.nominal["area_mm2"].to_numpy()
    assert np.all(ok[nominal_area < 5.0] == 1.0) and np.all(ok[nominal_area > 30.0] == 0.0)
    assert ((ok > 0) & (ok < 1)).any()  # PE and SRAM area draws move designs near the cap across it


def _one_line(call, match):
    with pytest.raises(UserError, match=match) as err:
        call()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 0}, "whole number >= 1"),
    ({"n": -3}, "whole number >= 1"),
    ({"n": 2.5}, "whole number >= 1"),
    ({"n": True}, "whole number >= 1"),
    ({"n": 10, "seed": -1}, "seed must be a whole number"),
    ({"n": 10, "seed": "abc"}, "seed must be a whole number"),
    ({"n": 10**9}, r"GB limit: use at most \d+ samples"),
])
def test_bad_n_or_seed_is_a_one_line_error(kwargs, match):
    _one_line(lambda: evaluate_uncertain(SPEC, MIXED, None, **kwargs), match)


def test_the_memory_limit_is_stated_and_honoured():
    limit = max_samples(6)
    evaluate_uncertain(SPEC, MIXED, None, 5, 0)  # far below
    _one_line(lambda: evaluate_uncertain(SPEC, MIXED, None, limit + 1, 0), f"at most {limit} samples")


def test_a_figure_the_fast_path_does_not_separate_is_refused():
    figure = dict(load_table().figure)
    figure["tech.vector_op_energy_pj"] = figure["tech.mac_energy_pj"]
    table = DistributionTable.model_validate({"figure": {k: v.model_dump() for k, v in figure.items()}})
    _one_line(lambda: evaluate_uncertain(SPEC, MIXED, None, 5, 0, table), "tech.vector_op_energy_pj' is not propagated")


def test_bad_design_positions_are_one_line_errors():
    res = evaluate_uncertain(SPEC, MIXED, None, 5, 0)
    _one_line(lambda: prob_min_carbon(res, [0, 6]), r"positions must be whole numbers 0\.\.5")
    _one_line(lambda: summary(res, []), "no designs given")
    _one_line(lambda: prob_min_carbon(res, [True, False]), "mask needs 6 entries")


def test_bands_of_one_design_for_estimate():
    from catransformers.hardware import parse_hw
    from catransformers.uncertainty.propagate import bands

    config = parse_hw("clusters=2,width=128,depth=16,l2_kb=256,l2_bw=64,glb_mb=4")
    res = evaluate_uncertain(SPEC, config, None, 40, 9)
    out = json.loads(json.dumps(bands(res)))
    assert set(METRICS) <= set(out)
    for metric in METRICS:
        b = out[metric]
        assert b["p05"] <= b["p50"] <= b["p95"]
        assert b["nominal"] == pytest.approx(float(res.nominal[metric].iloc[0]))
    assert out["latency_s"]["p05"] == out["latency_s"]["p95"] == out["latency_s"]["nominal"]


def test_an_hourly_intensity_csv_is_read_once_and_matches_the_slow_path(tmp_path):
    csv = tmp_path / "ci.csv"
    csv.write_text("hour,ci_g_per_kwh\n" + "".join(f"{h},{100 + 10 * h}\n" for h in range(24)))
    settings = CostSettings(carbon=CarbonSettings(ci_csv=str(csv)))
    res = evaluate_uncertain(SPEC, MIXED, settings, 6, 1)
    ref = evaluate_sample_slow(SPEC, MIXED, settings, draw(6, 1), 4)
    assert _rel(res.total_carbon_kg[4], ref["total_carbon_kg"]) < 1e-9
