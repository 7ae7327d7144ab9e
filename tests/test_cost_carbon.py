"""Carbon formulas against hand-computed values (ACT embodied, usage-profile operational)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from catransformers.carbon import CarbonSettings, embodied_die_kg, embodied_dram_kg, hourly_csv_mean, operational_kg
from catransformers.errors import UserError


def test_act_check_figure_22nm_gpa95_taiwan() -> None:
    # (642 g/kWh x 1.077 kWh/cm2 + 188.28 + 500) / 0.875
    assert CarbonSettings().die_g_per_cm2(22) == pytest.approx(1576.8, abs=0.05)
    assert CarbonSettings().die_g_per_cm2(22) == pytest.approx((642 * 1.077 + 188.28 + 500) / 0.875, rel=1e-12)


def test_die_and_dram_embodied_by_hand() -> None:
    area = np.array([3.35, 31.99])
    die = embodied_die_kg(area, np.array([22, 22]), CarbonSettings())
    assert np.allclose(die, area / 100 * (642 * 1.077 + 188.28 + 500) / 0.875 / 1000)
    dram = embodied_dram_kg(np.array(["lpddr3_20nm"]), np.array([1.0]), CarbonSettings())
    assert dram[0] == pytest.approx(184 / 0.875 / 1000)
    dram4 = embodied_dram_kg(np.array(["lpddr4"]), np.array([2.0]), CarbonSettings(fab_yield=0.5))
    assert dram4[0] == pytest.approx(48 * 2 / 0.5 / 1000)


def test_other_nodes_gpa_levels_and_fabs() -> None:
    s97 = CarbonSettings(gpa=97, fab_location="iceland")
    assert s97.die_g_per_cm2(7) == pytest.approx((7.3 * 2.15 + (350 + 200) / 2 + 500) / 0.875)
    s99 = CarbonSettings(gpa=99, fab_ci_g_per_kwh=100.0, fab_yield=1.0)
    assert s99.die_g_per_cm2(28) == pytest.approx(100 * 0.90 + 100 + 500)


def test_operational_usage_profile_by_hand() -> None:
    s = CarbonSettings()
    assert s.inferences() == 3 * 365 * 6 * 3600  # 23,652,000
    out = operational_kg(np.array([0.01]), np.array([0.02]), np.array([0.05]), s)
    assert out["operational_kg"][0] == pytest.approx(0.01 * 23_652_000 / 3.6e6 * 224 / 1000)
    bc = CarbonSettings(region="British Columbia", total_inferences=1e6)
    assert operational_kg(np.array([0.01]), np.array([0.0]), np.array([0.0]), bc)["operational_kg"][0] == \
        pytest.approx(0.01 * 1e6 / 3.6e6 * 68 / 1000)
    assert CarbonSettings(region="taiwan").use_ci_g_per_kwh() == 524
    assert CarbonSettings(ci_g_per_kwh=10.0, region="nowhere-is-ignored").use_ci_g_per_kwh() == 10.0


def test_idle_power_is_off_by_default_and_covers_non_busy_time() -> None:
    lat, leak, e = np.array([0.02]), np.array([0.05]), np.array([0.01])
    off = operational_kg(e, lat, leak, CarbonSettings())
    assert off["idle_kg"][0] == 0
    on = operational_kg(e, lat, leak, CarbonSettings(include_idle=True))
    idle_s = 3 * 365 * 24 * 3600 - 23_652_000 * 0.02
    assert on["idle_kg"][0] == pytest.approx(0.05 * idle_s / 3.6e6 * 224 / 1000)
    fixed = operational_kg(e, lat, leak, CarbonSettings(include_idle=True, idle_power_w=1.0))
    assert fixed["idle_kg"][0] == pytest.approx(idle_s / 3.6e6 * 224 / 1000)


def test_hourly_csv_averaged_over_active_hours(tmp_path) -> None:
    path = tmp_path / "ci.csv"
    path.write_text("hour,ci_g_per_kwh\n" + "".join(f"{h},{100 + h}\n" for h in range(24)))
    # window 9:00-15:00 -> hours 9..14 -> mean 111.5
    assert hourly_csv_mean(path, 9, 6) == pytest.approx(111.5)
    # wrapping window 22:00-02:00 -> hours 22, 23, 0, 1
    assert hourly_csv_mean(path, 22, 4) == pytest.approx((122 + 123 + 100 + 101) / 4)
    s = CarbonSettings(ci_csv=str(path), active_start_hour=0, hours_per_day=24)
    assert s.use_ci_g_per_kwh() == pytest.approx(111.5)
    stamped = tmp_path / "year.csv"
    stamped.write_text("datetime,carbon_intensity\n2024-01-01 09:00,50\n2024-01-02 09:00,70\n2024-01-01 10:00,10\n")
    assert hourly_csv_mean(stamped, 9, 1) == pytest.approx(60)
    with pytest.raises(UserError, match="missing intensity"):
        hourly_csv_mean(stamped, 9, 3)


def test_unknown_names_list_what_is_allowed() -> None:
    with pytest.raises(UserError, match="allowed: california"):
        CarbonSettings(region="mars")
    with pytest.raises(UserError, match="allowed: world"):
        CarbonSettings(fab_location="atlantis")
    with pytest.raises(ValidationError, match="95, 97, 99"):
        CarbonSettings(gpa=90)
    with pytest.raises(UserError, match="lpddr3_20nm"):
        embodied_dram_kg(np.array(["ddr9"]), np.array([1.0]), CarbonSettings())
