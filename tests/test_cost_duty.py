"""Duty cycle: does the accelerator keep up with the usage profile it is charged for?"""

import pytest

from catransformers.carbon import CarbonSettings
from catransformers.cost import CostSettings, evaluate_designs
from catransformers.hardware import HardwareConfig
from catransformers.models import get_model

HW = HardwareConfig(clusters=1, width=256, depth=8, l2_kb=64, l2_bw=128, glb_mb=2)


def test_duty_cycle_is_rate_times_latency():
    row = evaluate_designs(get_model("clip-vit-b-16"), HW).iloc[0]
    assert row["duty_cycle"] == pytest.approx(1.0 * row["latency_s"])  # paper usage: 1 inference/s while active


def test_duty_cycle_scales_with_rate_and_flags_overload():
    settings = CostSettings(carbon=CarbonSettings(inferences_per_s=50.0))
    row = evaluate_designs(get_model("clip-vit-b-16"), HW, settings).iloc[0]
    assert row["duty_cycle"] == pytest.approx(50.0 * row["latency_s"])
    assert row["duty_cycle"] > 1  # ~49 ms per inference cannot serve 50 per second
