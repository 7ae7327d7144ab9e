"""Profiles: named bundles of dotted overrides; each resolves to its documented figures, any flag overrides it."""

from __future__ import annotations

import pytest

from catransformers.carbon.model import CarbonSettings
from catransformers.errors import UserError
from catransformers.hardware import Tech
from catransformers.hardware.config import FIXED_KEYS, HardwareConfig
from catransformers.hardware.systolic import TIMINGS
from catransformers.profiles import PROFILES, Profile, get_profile


def _sections(overrides: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in overrides.items():
        section, _, field = key.partition(".")
        out.setdefault(section, {})[field] = value
    return out


def test_default_has_no_overrides_and_paper_has_the_documented_figures() -> None:
    assert get_profile("default").overrides == {}
    paper = get_profile("paper").overrides
    assert paper["tech.mac_energy_pj"] == 2.2  # 2.2 pJ per MAC (validation README)
    assert paper["tech.lpddr_pj_per_bit"] == pytest.approx(100 / 64)  # LPDDR4 100 pJ per 64-bit access
    assert paper["cost.timing"] == "ideal"  # MACs / active PEs
    assert paper["hardware.dram_bw_gbps"] == pytest.approx(80.0)  # 128 words/cycle at 625 MHz
    assert paper["hardware.freq_mhz"] == 625.0
    assert paper["carbon.total_inferences"] == 3.0e7
    assert paper["carbon.ci_g_per_kwh"] == 224.0
    assert paper["tech.rf_read_energy_pj"] > 0  # register-file operand accesses (fitted on Table 2)


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_override_is_a_valid_key_and_value(name: str) -> None:
    prof = PROFILES[name]
    assert isinstance(prof, Profile) and prof.name == name and prof.description
    sections = _sections(prof.overrides)
    assert set(sections) <= {"tech", "cost", "carbon", "hardware"}
    tech = Tech(**sections.get("tech", {}))
    carbon = CarbonSettings(**sections.get("carbon", {}))
    hardware = sections.get("hardware", {})
    assert set(hardware) <= set(FIXED_KEYS)
    assert all(not isinstance(v, list) for v in hardware.values())  # scalars; a space wraps them
    HardwareConfig(clusters=1, width=32, depth=2, l2_kb=64, l2_bw=32, glb_mb=2, **hardware)
    assert sections.get("cost", {}).get("timing", "pipelined") in TIMINGS
    for key, value in sections.get("tech", {}).items():
        assert getattr(tech, key) == value
    for key, value in sections.get("carbon", {}).items():
        assert getattr(carbon, key) == value


def test_paper_profile_reproduces_its_carbon_figures() -> None:
    carbon = CarbonSettings(**_sections(get_profile("paper").overrides)["carbon"])
    assert carbon.inferences() == 3.0e7
    assert carbon.use_ci_g_per_kwh() == 224.0


def test_unknown_profile_is_a_one_line_user_error_listing_the_names() -> None:
    with pytest.raises(UserError) as err:
        get_profile("papr")
    msg = str(err.value)
    assert "\n" not in msg and "papr" in msg and "default" in msg and "paper" in msg
    assert get_profile(" Paper ").name == "paper"


def test_profile_plus_an_override_applies_the_override() -> None:
    from catransformers.settings import resolve

    sections = resolve(None, {"cost.profile": "paper", "tech.mac_energy_pj": 1.0, "carbon.total_inferences": 5.0})
    assert sections["tech"]["mac_energy_pj"] == 1.0  # the flag wins
    assert sections["carbon"]["total_inferences"] == 5.0
    assert sections["tech"]["lpddr_pj_per_bit"] == pytest.approx(100 / 64)  # the rest of the profile stays
    assert sections["cost"]["timing"] == "ideal"
    assert sections["cost"]["profile"] == "paper"
