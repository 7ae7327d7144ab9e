"""Uncertainty bands for bought devices: exact against re-running the device model per sample, the validated time
factor, the template's shared draws, and the CLI (estimate --device / sweep --devices with --uncertainty)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from catransformers.carbon.model import CarbonSettings
from catransformers.cost import CostSettings
from catransformers.devices.catalogue import resolve_devices
from catransformers.devices.evaluate import DeviceSettings, evaluate_devices
from catransformers.errors import UserError
from catransformers.hardware import HardwareConfig
from catransformers.models import get_model
from catransformers.uncertainty import DistributionTable, draw, load_table, settings_for_sample
from catransformers.uncertainty.devices import _device_draws, _with_figures, evaluate_devices_uncertain
from catransformers.uncertainty.propagate import combine, evaluate_uncertain, summary, uncertainty_columns

DEVICES = ["nvidia-l4", "nvidia-jetson-orin-nano-8gb", "nvidia-h100-sxm"]
SETTINGS = DeviceSettings(batches=(1, 8))
SPEC = get_model("minilm-l6")


def _table(*keys: str) -> DistributionTable:
    full = load_table()
    return DistributionTable(figure={k: full.figure[k] for k in keys})


def test_exact_against_re_running_the_device_model_per_sample():
    keys = ("carbon.ci_g_per_kwh", "carbon.fab_yield", "carbon.fab_ci_g_per_kwh", "carbon.lifetime_years")
    tab = _table(*keys)
    n, seed = 12, 4
    res = evaluate_devices_uncertain(SPEC, DEVICES, SETTINGS, n, seed, tab)
    devs = resolve_devices(DEVICES)
    figures = _device_draws(devs, SETTINGS, n, seed)
    assert {"idle_w", "board_kg"} <= set(figures)  # the catalogue's estimates with a range are drawn
    samples = draw(n, seed, tab)
    for i in (0, 5, 11):
        run = settings_for_sample(samples, i, carbon=SETTINGS.carbon, table=tab)
        devs_i = [_with_figures(d, {k: v[i, j] for k, v in figures.items()}) for j, d in enumerate(devs)]
        slow = evaluate_devices(SPEC, devs_i, SETTINGS.model_copy(update={"carbon": run.carbon}))
        for metric in ("total_carbon_kg", "operational_kg", "embodied_kg", "energy_per_inference_j", "latency_s"):
            np.testing.assert_allclose(res.samples_of(metric)[i], slow[metric].to_numpy(), rtol=1e-12)
    nominal = evaluate_devices(SPEC, DEVICES, SETTINGS)
    np.testing.assert_allclose(res.nominal["total_carbon_kg"], nominal["total_carbon_kg"], rtol=1e-12)


def test_the_time_factor_is_drawn_per_device_and_moves_latency_and_energy_together():
    res = evaluate_devices_uncertain(SPEC, DEVICES, SETTINGS, 400, 0, _table("device.time_factor"))
    ratio = res.samples_of("latency_s") / res.nominal["latency_s"].to_numpy()
    np.testing.assert_allclose(ratio[:, 0], ratio[:, 1])  # one device, both batch sizes: the same draw
    assert not np.allclose(ratio[:, 0], ratio[:, 2])  # another device: its own draw
    p05, p95 = np.quantile(ratio[:, 0], [0.05, 0.95])
    assert p05 == pytest.approx(0.70, rel=0.05) and p95 == pytest.approx(1.43, rel=0.05)
    # the device files' own draws (idle power) are the same with or without the factor: energy moves by it alone
    without = evaluate_devices_uncertain(SPEC, DEVICES, SETTINGS, 400, 0, _table("carbon.fab_yield"))
    np.testing.assert_allclose(without.samples_of("latency_s")[0], res.nominal["latency_s"].to_numpy())
    np.testing.assert_allclose(res.energy_per_inference_j / without.energy_per_inference_j, ratio, rtol=1e-12)


def test_the_template_and_the_devices_share_the_common_draws():
    tab = _table("carbon.ci_g_per_kwh")
    settings = CostSettings(constraints={"max_latency_ms": None})
    hw = HardwareConfig(clusters=1, width=64, depth=16, l2_kb=128, l2_bw=128, glb_mb=2)
    template = evaluate_uncertain(SPEC, hw, settings, 50, 7, tab)
    devices = evaluate_devices_uncertain(SPEC, DEVICES, SETTINGS, 50, 7, tab)
    both = combine([template, devices])
    assert both.n_designs == 1 + 3 * 2 and both.samples_of("latency_s").shape == (50, 7)
    # the devices' own draws (idle power, service life) aside, both move by the same intensity draw per sample row
    own = evaluate_devices_uncertain(SPEC, DEVICES, SETTINGS, 50, 7, _table("carbon.fab_yield"))
    template_ratio = template.operational_kg[:, :1] / template.nominal["operational_kg"].to_numpy()
    np.testing.assert_allclose(devices.operational_kg / own.operational_kg, template_ratio * np.ones((1, 6)),
                               rtol=1e-9)
    assert both.prob_area_ok().tolist() == [1.0] * 7  # devices have no area cap
    assert "tech.mac_energy_pj" not in both.skipped
    s = summary(both, np.arange(7))
    assert sum(d["prob_min_carbon"] for d in s["front"]) == pytest.approx(1.0)
    assert "bought devices" in s["latency"]
    with pytest.raises(UserError, match="same number of samples"):
        combine([template, evaluate_devices_uncertain(SPEC, DEVICES, SETTINGS, 40, 7, tab)])


def test_user_values_are_not_drawn_and_the_template_ignores_device_keys():
    fixed = DeviceSettings(utilisation=0.3, device_lifetime_years=4.0)
    assert not {"utilisation", "lifetime_years"} & set(_device_draws(resolve_devices(DEVICES), fixed, 10, 0))
    hw = HardwareConfig(clusters=1, width=64, depth=16, l2_kb=128, l2_bw=128, glb_mb=2)
    res = evaluate_uncertain(SPEC, hw, CostSettings(), 20, 0)
    assert "device.time_factor" not in res.keys and "device.time_factor" not in res.skipped
    cols = uncertainty_columns(evaluate_devices(SPEC, DEVICES, SETTINGS),
                               evaluate_devices_uncertain(SPEC, DEVICES, SETTINGS, 100, 0))
    assert (cols.total_carbon_kg_p05 < cols.total_carbon_kg_p50).all()
    assert (cols.total_carbon_kg_p50 < cols.total_carbon_kg_p95).all()
    assert (cols.latency_s_p05 < cols.latency_s_p95).all()


def _cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from catransformers.cli import main; sys.argv = ['catransformers', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_cli_bands_for_a_device_and_a_device_sweep(tmp_path: Path):
    res = _cli("estimate", "-m", "minilm-l6", "--device", "nvidia-l4", "--uncertainty", "100", "--json")
    assert res.returncode == 0, res.stderr
    band = json.loads(res.stdout)["uncertainty"]["total_carbon_kg"]
    assert band["p05"] < band["p50"] < band["p95"]
    sweep = _cli("sweep", "-m", "minilm-l6", "--devices", "nvidia-l4,nvidia-t4", "--template", "--width", "32,64",
                 "--depth", "8", "--uncertainty", "60", "--out", str(tmp_path / "sw"))
    assert sweep.returncode == 0, sweep.stderr
    unc = json.loads((tmp_path / "sw" / "summary.json").read_text())["uncertainty"]
    names = " ".join(f["hardware"] for f in unc["front"])
    assert sum(f["prob_min_carbon"] for f in unc["front"]) == pytest.approx(1.0)
    assert "nvidia" in names or "x" in names
    bad = _cli("sweep", "-m", "minilm-l6", "--devices", "nvidia-l4", "--uncertainty", "0", "--out",
               str(tmp_path / "bad"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "samples" in bad.stderr


def test_carbon_settings_of_a_device_sample_keep_the_region():
    carbon = CarbonSettings(region="taiwan")
    settings = DeviceSettings(carbon=carbon)
    res = evaluate_devices_uncertain(SPEC, ["nvidia-l4"], settings, 200, 1, _table("carbon.ci_g_per_kwh"))
    own = evaluate_devices_uncertain(SPEC, ["nvidia-l4"], settings, 200, 1, _table("carbon.fab_yield"))
    ratio = res.operational_kg[:, 0] / own.operational_kg[:, 0]
    # a factor on Taiwan's intensity (the table's 0.44-1.35), not a figure of its own
    assert ((ratio >= 0.44 - 1e-9) & (ratio <= 1.35 + 1e-9)).all() and ratio.max() > 1.2
