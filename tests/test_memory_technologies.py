"""The DRAM technology table: schema, sources, JEDEC bandwidth arithmetic, part selection, candidates, errors."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from catransformers.errors import UserError
from catransformers.memory import (
    BYTES_PER_GB,
    CANDIDATE_COLUMNS,
    bandwidth_gbps,
    check_capacity,
    g_per_gb,
    get,
    load_table,
    max_channels,
    memory_candidates,
    next_part_gb,
    part_channels,
    pj_per_bit,
    resolve,
    smallest_part_gb,
    sold_capacities,
    technology_names,
)
from catransformers.memory.technologies import parse_table

# ACT's DRAM table, g CO2e per GB (Gupta et al., ISCA 2022, tool release): the oracle the memory table must keep.
ACT_DRAM_G_PER_GB = {"ddr3_50nm": 600.0, "ddr3_40nm": 315.0, "ddr3_30nm": 230.0, "lpddr3_30nm": 201.0,
                     "lpddr3_20nm": 184.0, "lpddr2_20nm": 159.0, "lpddr4": 48.0, "ddr4_10nm": 65.0}
# Two LPDDR3-1600 x32 channels (JEDEC JESD209-3): 2 x 1600 MT/s x 32 bit / 8 = 12.8 GB/s, the template's default.
LPDDR3_TWO_CHANNELS_GBPS = 12.8

GIB = BYTES_PER_GB
SHIPPED = resources.files("catransformers.memory").joinpath("technologies.toml").read_text()


def _one_line_error(fn, *args, match: str) -> str:
    with pytest.raises(UserError, match=match) as err:
        fn(*args)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_table_has_the_issue_technologies_and_acts_names():
    names = technology_names()
    for family in ("lpddr3", "lpddr4", "lpddr4x", "lpddr5", "lpddr5x", "ddr4", "ddr5", "hbm2e", "hbm3"):
        assert resolve(family) in names
    for act_name, grams in ACT_DRAM_G_PER_GB.items():  # ACT's DRAM table stays valid, with ACT's figures
        assert resolve(act_name) == act_name
        assert g_per_gb(act_name) == grams
    assert resolve("LPDDR3") == "lpddr3_20nm"  # the paper's DRAM
    assert resolve("DDR4") == "ddr4_10nm" and resolve("LPDDR3-30nm") == "lpddr3_30nm"


def test_every_figure_is_sourced_finite_and_ranged():
    table = load_table()
    for itf in table.interface.values():
        assert itf.standard.startswith("JESD")
        for fig in (itf.rate_mts, itf.channel_bits, itf.default_channels, itf.pj_per_bit, itf.capacities_gb):
            assert fig.basis in ("cited", "derived", "assumption") and len(fig.source) >= 8
        assert itf.pj_per_bit.low <= itf.pj_per_bit.central <= itf.pj_per_bit.high
    for tech in table.technology.values():
        assert tech.g_per_gb.low <= tech.g_per_gb.central <= tech.g_per_gb.high and tech.g_per_gb.source


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.replace('[interface.lpddr4.rate_mts]\nvalue = 3200', '[interface.lpddr4.rate_mts]\nvalue = nan', 1),
     "rate_mts.value"),
    (lambda s: s.replace('name = "LPDDR4"\n', 'name = "LPDDR4"\ncolour = "red"\n', 1), "colour"),
    (lambda s: s.replace('central = 48.0\nlow = 34.0', 'central = 48.0\nlow = 50.0', 1), "low <= central"),
    (lambda s: s.replace('source = "ACT DRAM table \'lpddr4\' 48 g/GB (ISCA 2022, SK hynix data); range 0.7x-1.5x"',
                         '', 1), "source"),
    (lambda s: s.replace('interface = "hbm3"', 'interface = "hbm4"', 1), "unknown interface"),
    (lambda s: s.replace("[interface.lpddr4.channel_bits]\nvalue = 16", "[interface.lpddr4.channel_bits]\nvalue = 12",
                         1), "channel width must be one of"),
    (lambda s: s.replace("central = 3.3\nlow = 2.0\nhigh = 7.0", "central = 3.3\nlow = 2.0\nhigh = 700.0", 1),
     "outside every cited"),
    (lambda s: s.replace("values = [0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0]", "values = [1.0, 0.5]", 1), "ascending"),
    (lambda s: s.replace("[interface.lpddr4.min_channel_gb]\nvalue = 0.25",
                         "[interface.lpddr4.min_channel_gb]\nvalue = 1", 1), "smallest part"),
])
def test_schema_rejects_bad_tables_in_one_line(edit, match):
    bad = edit(SHIPPED)
    assert bad != SHIPPED
    msg = _one_line_error(parse_table, bad, match=match)
    assert msg.startswith("technologies.toml: ")


def test_bandwidth_is_channels_times_rate_times_width():
    # JESD209-4: LPDDR4-3200, one x16 channel = 6.4 GB/s; JESD238: one HBM3 stack (16 x 64 bit at 6.4) = 819.2 GB/s
    assert bandwidth_gbps("lpddr4", 1) == pytest.approx(6.4)
    assert bandwidth_gbps("hbm3") == pytest.approx(819.2)
    assert bandwidth_gbps("hbm2e") == pytest.approx(409.6)
    # the cost model's default (two LPDDR3-1600 x32 channels) is the LPDDR3 entry's default
    assert bandwidth_gbps("lpddr3_20nm") == pytest.approx(LPDDR3_TWO_CHANNELS_GBPS)
    np.testing.assert_allclose(bandwidth_gbps("ddr4", np.array([1, 2, 4])), [25.6, 51.2, 102.4])
    t = get("lpddr5x")
    assert bandwidth_gbps(t, 3) == pytest.approx(3 * t.rate_mts * t.channel_bits / 8 / 1000)


def test_energy_per_bit_orders_the_families():
    assert pj_per_bit("hbm3") < pj_per_bit("lpddr5x") < pj_per_bit("lpddr5") < pj_per_bit("lpddr4x")
    assert pj_per_bit("lpddr4x") < pj_per_bit("lpddr4") < pj_per_bit("ddr4") < pj_per_bit("ddr3")
    assert pj_per_bit("lpddr3") == 8.0  # the cost model's LPDDR figure, so the paper presets do not move


def test_smallest_part_holds_the_bytes_vectorised():
    caps = sold_capacities("lpddr4")
    assert caps == tuple(sorted(caps))
    resident = np.array([0.0, 0.3 * GIB, 0.5 * GIB, 0.5 * GIB + 1, 7.9 * GIB, 9 * GIB, 16 * GIB])
    got = smallest_part_gb("lpddr4", resident)
    np.testing.assert_array_equal(got, [0.25, 0.5, 0.5, 1.0, 8.0, 16.0, 16.0])  # beyond 8 GB: whole 8 GB parts
    assert np.all(got * GIB >= resident)
    assert smallest_part_gb("hbm3", 1e9) == 16.0
    np.testing.assert_array_equal(next_part_gb("lpddr4", np.array([0.5, 6.0, 8.0, 16.0])), [1.0, 8.0, 16.0, 24.0])


def test_small_parts_drive_fewer_channels():
    # JESD209-4: from 2 Gb (0.25 GB) per x16 channel, so 0.25 GB is one channel, 1 GB and up the 4-channel bus
    np.testing.assert_array_equal(part_channels("lpddr4", np.array([0.25, 0.5, 1.0, 8.0])), [1, 2, 4, 4])
    assert max_channels("lpddr4", 8.0) == 32
    assert part_channels("hbm3", 16.0) == 16 and part_channels("ddr4", 2.0) == 1


def test_capacity_check_accepts_parts_only():
    assert check_capacity("lpddr3", 1.0) == 1.0
    assert check_capacity("lpddr4", 16.0) == 16.0  # two of the largest part
    msg = _one_line_error(check_capacity, "lpddr4", 0.7, match="not a sold LPDDR4 capacity")
    assert "try 1" in msg


def test_candidates_smallest_next_and_on_chip_only():
    resident = np.array([3 * 2**20, 22e6, 1.5 * GIB])  # fits an 8 MB GLB; a MiniLM-sized model; beyond 1 GB
    df = memory_candidates(resident, "lpddr4,lpddr3", glb_bytes=8 * 2**20)
    assert tuple(df.columns) == CANDIDATE_COLUMNS
    on_chip = df[df["memory"] == "none"]
    assert list(on_chip["design"]) == [0]
    dram_cols = ["dram_gb", "dram_channels", "dram_bw_gbps", "dram_pj_per_bit", "dram_g_per_gb"]
    assert on_chip[dram_cols].to_numpy().sum() == 0
    assert on_chip["candidate"].tolist() == ["on_chip"]
    d2 = df[(df["design"] == 2) & (df["memory"] == "lpddr4")]
    assert d2.set_index("candidate")["dram_gb"].to_dict() == {"smallest": 2.0, "next": 3.0}
    d1 = df[(df["design"] == 1) & (df["memory"] == "lpddr3_20nm")]
    assert d1["dram_gb"].tolist() == [0.5, 1.0]
    # a 0.5 GB LPDDR3 part is one x32 die (6.4 GB/s); 1 GB drives the default two channels (the cost model's 12.8)
    np.testing.assert_allclose(d1["dram_bw_gbps"], [LPDDR3_TWO_CHANNELS_GBPS / 2, LPDDR3_TWO_CHANNELS_GBPS])
    assert d1["dram_channels"].tolist() == [1, 2]
    assert len(df) == 1 + 3 * 2 * 2
    assert df.groupby("design")["memory"].first().tolist() == ["none", "lpddr4", "lpddr4"]


def test_candidates_per_design_glb_and_no_glb():
    per_design = memory_candidates([4 * 2**20, 4 * 2**20], ["hbm3"], glb_bytes=[2 * 2**20, 8 * 2**20])
    assert per_design[per_design["memory"] == "none"]["design"].tolist() == [1]
    assert "none" not in set(memory_candidates([1.0], ["hbm3"])["memory"])
    dup = memory_candidates([1.0], ["lpddr3", "lpddr3_20nm"])  # an alias and its name are one technology
    assert len(dup) == 2


@pytest.mark.parametrize("call, match", [
    (lambda: resolve("lpddr6"), r"unknown memory technology 'lpddr6' \(did you mean lpddr5"),
    (lambda: memory_candidates([1.0], "lpddr4,hbm"), r"did you mean hbm3 or hbm2e"),
    (lambda: bandwidth_gbps("lpddr4", 0), "whole number >= 1"),
    (lambda: bandwidth_gbps("lpddr4", np.array([2, 1.5])), "got 1.5"),
    (lambda: smallest_part_gb("lpddr4", -1.0), "resident bytes"),
    (lambda: memory_candidates([1.0], ""), "no memory technology"),
    (lambda: memory_candidates([1.0], "lpddr4", glb_bytes=float("nan")), "global buffer"),
])
def test_errors_are_one_line_user_errors(call, match):
    _one_line_error(call, match=match)
