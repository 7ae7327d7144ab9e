"""Carbon payback: savings of the chosen design over the unpruned model's best hardware, against the search's own."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from catransformers.search.payback import carbon_payback, payback_text

BASE = {"score": 0.66, "score_ci_low": 0.64, "design": {"total_carbon_kg": 0.30}}
FRONT = pd.DataFrame({"trial": [1, 2, 3], "accuracy": [0.66, 0.645, 0.50], "total_carbon_kg": [0.29, 0.25, 0.10]})


def test_the_chosen_design_is_the_cheapest_within_noise_of_the_baseline():
    p = carbon_payback(FRONT, BASE, {"emissions_kg": 0.002}, fleet_size=1000)
    assert p["chosen"]["trial"] == 2  # trial 3 is cheaper but below the baseline's interval
    assert p["saved_kg_per_device"] == pytest.approx(0.05)
    assert p["saved_kg_fleet"] == pytest.approx(50.0)
    assert p["payback_ratio"] == pytest.approx(50.0 / 0.002)
    assert p["devices_to_pay_back"] == pytest.approx(0.002 / 0.05)
    assert "break-even" in payback_text(p)


def test_no_design_within_noise_or_no_baseline_design():
    p = carbon_payback(FRONT[FRONT.trial == 3], BASE, None, fleet_size=1)
    assert p["chosen"] is None and "not defined" in payback_text(p)
    assert carbon_payback(FRONT, {"score": 0.6}, None, 1) is None


def test_a_design_dearer_than_the_baseline_is_no_payback_not_a_negative_ratio():
    dearer = pd.DataFrame({"trial": [7], "accuracy": [0.65], "total_carbon_kg": [0.51]})
    p = carbon_payback(dearer, BASE, {"emissions_kg": 0.0002}, fleet_size=10)
    assert p["saved_kg_per_device"] == pytest.approx(-0.21) and p["devices_to_pay_back"] is None
    text = payback_text(p)
    assert text.startswith("carbon payback: none") and "210 g more per device" in text
    assert not re.search(r"-\d", text)  # no negative savings or ratio
