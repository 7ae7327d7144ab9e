"""The uncertainty table and sampler: schema, sources, seeded LHS draws, quantiles, prob_min, rank stability."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from catransformers.errors import UserError
from catransformers.uncertainty import (
    draw,
    inverse_cdf,
    load_table,
    parse_table,
    prob_min,
    quantile_columns,
    quantiles,
    rank_stability,
)

SHIPPED = resources.files("catransformers.uncertainty").joinpath("distributions.toml").read_text()
REQUIRED = (
    "tech.mac_energy_pj", "tech.rf_read_energy_pj", "tech.sram_energy_scale", "dram.pj_per_bit", "dram.g_per_gb",
    "tech.sram_leak_mw_per_mb", "tech.logic_leak_mw_per_mm2", "tech.pe_area_um2", "tech.sram_area_scale",
    "carbon.fab_ci_g_per_kwh", "carbon.ci_g_per_kwh", "carbon.fab_yield", "carbon.lifetime_years",
)


def _one_line_error(fn, *args, match: str) -> str:
    with pytest.raises(UserError, match=match) as err:
        fn(*args)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_table_covers_the_issue_figures_with_sources():
    table = load_table()
    assert set(REQUIRED) <= set(table.keys())
    for key, dist in table.figure.items():
        assert dist.sources and all(len(s) >= 8 for s in dist.sources), key
        assert dist.why and dist.unit, key
    mac = table.figure["tech.mac_energy_pj"]
    assert (mac.low, mac.high) == (0.06, 2.2)
    dram = table.figure["dram.pj_per_bit"]  # a factor: 4-20 pJ/bit around the 8 pJ/bit LPDDR figure
    assert dram.kind == "factor" and (8 * dram.p05, 8 * dram.p95) == (4.0, 20.0)


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.replace('low = 0.06\nhigh = 2.2', 'low = 2.2\nhigh = 0.06', 1), "low < high"),
    (lambda s: s.replace('low = 0.06\nhigh = 2.2', 'low = 0.06', 1), "loguniform takes exactly low, high"),
    (lambda s: s.replace('p05 = 0.7\np95 = 1.45\nnominal = 1.0', 'p05 = 0.7\np95 = 1.45\nnominal = 1.2', 1),
     "factor's nominal is 1"),
    (lambda s: s.replace('[figure."carbon.fab_yield"]', '[figure."fab yield"]', 1), "dotted setting name"),
    (lambda s: s.replace('why = "sources span 37x', 'colour = "red"\nwhy = "sources span 37x', 1), "colour"),
    (lambda s: s.replace('mode = 0.875', 'mode = 0.99', 1), "low <= mode <= high"),
    (lambda s: s.replace('high = 2.2', 'high = inf', 1), "high"),
])
def test_schema_rejects_bad_tables_in_one_line(edit, match):
    bad = edit(SHIPPED)
    assert bad != SHIPPED
    msg = _one_line_error(parse_table, bad, match=match)
    assert msg.startswith("distributions.toml: ")


def test_draw_is_seeded_joint_and_reproducible():
    a, b, c = draw(64, 0), draw(64, 0), draw(64, 1)
    assert set(a) == set(load_table().keys())
    assert all(v.shape == (64,) for v in a.values())
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], c[k])
    sub = draw(64, 0, keys=["carbon.fab_yield"])  # per-key streams: a subset draws the same values
    np.testing.assert_array_equal(sub["carbon.fab_yield"], a["carbon.fab_yield"])


def test_draws_are_latin_hypercube_stratified_and_in_support():
    n = 50
    table = load_table()
    samples = draw(n, 3)
    mac = table.figure["tech.mac_energy_pj"]  # loguniform: back to uniforms, exactly one per stratum
    u = (np.log(samples["tech.mac_energy_pj"]) - np.log(mac.low)) / (np.log(mac.high) - np.log(mac.low))
    np.testing.assert_array_equal(np.sort(np.floor(u * n)), np.arange(n))
    for key, dist in table.figure.items():
        if dist.distribution != "lognormal":
            assert samples[key].min() >= dist.low and samples[key].max() <= dist.high, key
        assert np.all(np.isfinite(samples[key])) and np.all(samples[key] > 0), key


def test_inverse_cdf_hits_the_stated_quantiles():
    table = load_table()
    lognormal = table.figure["dram.pj_per_bit"]
    np.testing.assert_allclose(inverse_cdf(lognormal, np.array([0.05, 0.95])), [0.5, 2.5], rtol=1e-9)
    tri = table.figure["carbon.lifetime_years"]
    np.testing.assert_allclose(inverse_cdf(tri, np.array([1e-12, 1 - 1e-12])), [2.0, 5.0], atol=1e-5)
    assert inverse_cdf(tri, np.array([0.5]))[0] == pytest.approx(tri.median())
    assert np.median(draw(999, 0)["carbon.lifetime_years"]) == pytest.approx(tri.median(), rel=0.01)


def test_quantiles_are_ordered_and_named():
    rng = np.random.default_rng(0)
    values = rng.lognormal(size=(300, 7))
    q = quantiles(values)
    assert q.shape == (3, 7)
    assert np.all(q[0] <= q[1]) and np.all(q[1] <= q[2])
    cols = quantile_columns("total_carbon_kg", values, (0.05, 0.5, 0.95, 0.975))
    assert list(cols) == ["total_carbon_kg_p05", "total_carbon_kg_p50", "total_carbon_kg_p95", "total_carbon_kg_p97_5"]
    np.testing.assert_array_equal(cols["total_carbon_kg_p50"], q[1])


def test_prob_min_sums_to_one_shares_ties_and_skips_nan():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(400, 4)) + np.array([0.0, 0.5, 3.0, 6.0])
    p = prob_min(values)
    assert p.sum() == pytest.approx(1.0)
    assert p[0] > p[1] > p[2] >= p[3] and p[3] == 0.0
    assert prob_min(np.ones((5, 4))).tolist() == [0.25] * 4
    with_nan = np.array([[1.0, np.nan], [np.nan, np.nan], [3.0, 2.0]])
    assert prob_min(with_nan).tolist() == [0.5, 0.5]


def test_rank_stability():
    base = np.arange(5.0)
    same_order = base[None, :] * np.linspace(1, 3, 20)[:, None]  # every sample ranks designs alike
    assert rank_stability(same_order) == pytest.approx(1.0)
    assert rank_stability(same_order, reference=-base) == pytest.approx(-1.0)
    noisy = base + np.random.default_rng(2).normal(scale=3.0, size=(200, 5))
    assert 0.0 < rank_stability(noisy) < 0.9
    assert rank_stability(np.ones((3, 1))) == 1.0


@pytest.mark.parametrize("call, match", [
    (lambda: draw(0, 0), "whole number >= 1, got 0"),
    (lambda: draw(-5, 0), "got -5"),
    (lambda: draw(2.5, 0), "got 2.5"),
    (lambda: draw(10, -1), "seed must be a whole number >= 0"),
    (lambda: draw(10, 0, keys=["tech.mac_energy"]), "no distribution for 'tech.mac_energy'"),
    (lambda: quantiles(np.ones((4, 2)), (0.05, 1.0)), "strictly between 0 and 1.*got 1"),
    (lambda: quantiles(np.ones((4, 2)), (0.0,)), "got 0"),
    (lambda: quantiles(np.ones((0, 2))), "samples x designs"),
    (lambda: prob_min(np.full((2, 2), np.nan)), "no sample"),
    (lambda: rank_stability(np.ones((3, 2)), reference=[1.0]), "one value per design"),
])
def test_errors_are_one_line_user_errors(call, match):
    _one_line_error(call, match=match)


def test_a_sample_becomes_settings():
    from catransformers.carbon.model import CarbonSettings
    from catransformers.hardware.tech import Tech
    from catransformers.uncertainty import settings_for_sample

    samples = draw(8, 5)
    base_carbon = CarbonSettings(region="taiwan")
    got = settings_for_sample(samples, 3, Tech(), base_carbon)
    assert got.tech.mac_energy_pj == samples["tech.mac_energy_pj"][3]  # absolute: replaces
    assert got.carbon.fab_yield == samples["carbon.fab_yield"][3]
    # factors multiply the resolved value: Taiwan's use and fab intensities, the per-family DRAM energies
    assert got.carbon.ci_g_per_kwh == pytest.approx(524.0 * samples["carbon.ci_g_per_kwh"][3])
    assert got.carbon.fab_ci_g_per_kwh == pytest.approx(642.0 * samples["carbon.fab_ci_g_per_kwh"][3])
    assert got.tech.dram_energy_scale == pytest.approx(Tech().dram_energy_scale * samples["dram.pj_per_bit"][3])
    assert got.dram_g_per_gb_factor == samples["dram.g_per_gb"][3]
    assert set(got.skipped) == {k for k, d in load_table().figure.items() if d.new_setting}
    with pytest.raises(UserError, match="outside the 8 samples"):
        settings_for_sample(samples, 8)


def test_memory_factors_must_be_factors():
    bad = SHIPPED.replace('unit = "multiplies the memory technology\'s central access energy"\n', "", 1)
    bad = bad.replace('[figure."dram.pj_per_bit"]\nkind = "factor"',
                      '[figure."dram.pj_per_bit"]\nkind = "absolute"\nunit = "pJ/bit"', 1)
    _one_line_error(parse_table, bad, match="must be factors")
