"""Bought devices: catalogue schema and sources, roofline limits, batch scaling, decode, capacity, carbon, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from catransformers.carbon.model import CarbonSettings
from catransformers.cli import devices as devices_cli
from catransformers.cost import Constraints
from catransformers.devices import (
    DeviceSettings,
    device_embodied,
    estimate_on_device,
    evaluate_devices,
    load_catalogue,
    parse_device,
    resolve_devices,
)
from catransformers.devices.model import device_arrays, device_cost
from catransformers.errors import UserError
from catransformers.models import get_model, param_count
from catransformers.workload.ops import WorkloadOptions

REQUIRED = [
    "nvidia-jetson-orin-nano-8gb", "nvidia-jetson-orin-nx-16gb", "nvidia-jetson-agx-orin-64gb", "google-coral-som",
    "raspberry-pi-5-8gb", "nvidia-t4", "nvidia-l4", "nvidia-v100-sxm2-32gb", "nvidia-a100-sxm-80gb", "nvidia-h100-sxm",
    "intel-xeon-8480plus",
]

MINIMAL = """
id = "my-npu"
name = "My NPU"
vendor = "Acme"
class = "npu"
deployment = "edge"
form = "module"
memory_kind = "lpddr"
int8_tops = { value = 10.0, source = "ds" }
memory_type = { value = "LPDDR4", source = "ds" }
memory_gb = { value = 4.0, source = "ds" }
memory_bw_gbps = { value = 25.6, source = "ds" }
tdp_w = { value = 8.0, source = "ds" }
idle_w = { value = 1.0, estimate = true, range = [0.5, 2.0], method = "guess from similar parts" }
process = { value = "16 nm", source = "ds" }
act_node_nm = { value = 14, source = "ds" }
die_area_mm2 = { value = 50.0, source = "ds" }
board_kg = { value = 1.0, estimate = true, range = [0.5, 2.0], method = "PWB area x factor" }

[sources.ds]
title = "My NPU datasheet"
publisher = "Acme"
year = 2024
"""


def _one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_catalogue_has_required_devices():
    cat = load_catalogue()
    assert set(REQUIRED) <= set(cat)


def test_every_catalogue_figure_has_a_source_or_an_estimate_range():
    for dev in load_catalogue().values():
        for name, fig in dev.figures().items():
            if fig.source is not None:
                src = dev.sources[fig.source]
                assert src.title and src.publisher and 1990 <= src.year <= 2100, (dev.id, name)
            else:
                assert fig.estimate and fig.method, (dev.id, name)
            if getattr(fig, "estimate", False) and hasattr(fig, "range") and fig.range is not None:
                assert fig.range[0] <= fig.value <= fig.range[1], (dev.id, name)


def test_minimal_user_device_parses():
    dev = parse_device(MINIMAL, "my.toml")
    assert dev.id == "my-npu" and dev.fp16_tflops is None


@pytest.mark.parametrize(("edit", "expect"), [
    (('vendor = "Acme"', 'vendor = "Acme"\ncolour = "red"'), "unknown key 'colour'"),
    (("value = 10.0, source", "value = nan, source"), "int8_tops"),
    (("value = 25.6", "value = -3.0"), "memory_bw_gbps"),
    (('range = [0.5, 2.0], method = "guess from similar parts"', 'method = "guess"'), "range"),
    (('int8_tops = { value = 10.0, source = "ds" }', 'int8_tops = { value = 10.0, source = "nope" }'), "nope"),
    (('tdp_w = { value = 8.0', 'tdp_w = { value = 0.5'), "idle_w"),
    (('memory_kind = "lpddr"', 'memory_kind = "sram"'), "memory_kind"),
    (('act_node_nm = { value = 14', 'act_node_nm = { value = 16'), "act_node_nm"),
    (('int8_tops = { value = 10.0, source = "ds" }', 'int8_tops = { value = 10.0 }'), "source"),
])
def test_schema_rejects_bad_tomls_with_the_key_named(edit, expect):
    old, new = edit
    assert old in MINIMAL
    msg = _one_line_error(parse_device, MINIMAL.replace(old, new, 1), "bad.toml")
    assert "bad.toml" in msg and expect in msg


def test_user_folder_adds_and_replaces_devices(tmp_path, monkeypatch):
    (tmp_path / "a.toml").write_text(MINIMAL)
    (tmp_path / "b.toml").write_text(MINIMAL.replace('id = "my-npu"', 'id = "nvidia-l4"'))
    monkeypatch.setenv("CATRANSFORMERS_DEVICES", str(tmp_path))
    cat = load_catalogue()
    assert "my-npu" in cat and cat["nvidia-l4"].vendor == "Acme"  # the user file replaces the packaged one
    (tmp_path / "c.toml").write_text(MINIMAL)
    assert "twice" in _one_line_error(load_catalogue)


def _cost(dev_id: str, model: str, batches, precision="int8", bw_scale=1.0, peak_scale=1.0, **opts):
    arrays = device_arrays(resolve_devices([dev_id]), precision)
    arrays = type(arrays)(**{**arrays.__dict__, "bw_bytes": arrays.bw_bytes * bw_scale,
                             "peak_ops": arrays.peak_ops * peak_scale})
    return device_cost(get_model(model), WorkloadOptions(**opts), list(batches), arrays, precision)


def test_compute_bound_scales_with_peak_not_bandwidth():
    base = _cost("nvidia-h100-sxm", "bert-large", [256], tokens=384)
    assert base.compute_s[0, 0] > 0.8 * (base.latency_s[0, 0] - base.launch_s[0, 0])
    faster_peak = _cost("nvidia-h100-sxm", "bert-large", [256], peak_scale=2.0, tokens=384)
    more_bw = _cost("nvidia-h100-sxm", "bert-large", [256], bw_scale=2.0, tokens=384)
    assert faster_peak.latency_s[0, 0] < 0.65 * base.latency_s[0, 0]
    assert more_bw.latency_s[0, 0] > 0.9 * base.latency_s[0, 0]


def test_decode_is_memory_bound_and_scales_with_bandwidth():
    opts = {"prefill_tokens": 16, "decode_tokens": 64}
    base = _cost("nvidia-h100-sxm", "llama-3-8b", [1], precision="fp16", **opts)
    assert base.memory_s[0, 0] > 0.9 * (base.compute_s[0, 0] + base.memory_s[0, 0])
    more_bw = _cost("nvidia-h100-sxm", "llama-3-8b", [1], precision="fp16", bw_scale=2.0, **opts)
    busy = lambda c: c.latency_s[0, 0] - c.launch_s[0, 0]  # noqa: E731
    assert busy(more_bw) == pytest.approx(busy(base) / 2, rel=0.05)
    # Each generated token reads every weight once: at least params x 2 bytes x steps from DRAM.
    weights = param_count(get_model("llama-3-8b")) * 2.0
    assert base.dram_bytes[0] > 64 * weights * 0.9


def test_batch_scaling_raises_throughput_and_lowers_energy_per_inference():
    df = evaluate_devices(get_model("bert-base"), ["nvidia-l4", "nvidia-jetson-agx-orin-64gb"],
                          DeviceSettings(batches=(1, 4, 16, 64),
                                                         constraints=Constraints(max_latency_ms=None)))
    for _, g in df.groupby("device"):
        g = g.sort_values("batch")
        assert np.all(np.diff(g["latency_s"]) > 0)
        assert np.all(np.diff(g["throughput_per_s"]) >= -1e-9)
        assert np.all(np.diff(g["energy_per_inference_j"]) <= 1e-12)


def test_power_between_idle_and_tdp():
    df = evaluate_devices(get_model("minilm-l6"), "all", DeviceSettings(batches=(1, 32)))
    cat = load_catalogue()
    for _, r in df.iterrows():
        dev = cat[r["device"]]
        assert dev.idle_w.value - 1e-9 <= r["power_w"] <= dev.tdp_w.value + 1e-9


def test_capacity_check_flags_and_estimate_errors():
    spec = get_model("llama-3-8b")
    settings = DeviceSettings(precision="fp16", workload=WorkloadOptions(prefill_tokens=128, decode_tokens=16),
                              constraints=Constraints(max_latency_ms=None))
    df = evaluate_devices(spec, ["nvidia-jetson-orin-nano-8gb", "nvidia-h100-sxm"], settings)
    ok = dict(zip(df["device"], df["ok_dram_capacity"], strict=True))
    assert ok == {"nvidia-jetson-orin-nano-8gb": False, "nvidia-h100-sxm": True}
    assert not df.set_index("device").loc["nvidia-jetson-orin-nano-8gb", "feasible"]
    msg = _one_line_error(estimate_on_device, spec, "nvidia-jetson-orin-nano-8gb", settings)
    assert "GB" in msg and "nvidia-jetson-orin-nano-8gb" in msg


def test_bad_input_errors_are_one_line():
    spec = get_model("minilm-l6")
    assert "nvidia-l4" in _one_line_error(estimate_on_device, spec, "nvidia-l5")
    assert "nvidia-l4" in _one_line_error(resolve_devices, ["l4"])
    assert "fp16" in _one_line_error(estimate_on_device, spec, "google-coral-som", DeviceSettings(precision="fp16"))
    assert "batch" in _one_line_error(evaluate_devices, spec, ["nvidia-l4"], DeviceSettings(batches=(0,)))
    assert "precision" in _one_line_error(evaluate_devices, spec, ["nvidia-l4"], DeviceSettings(precision="fp8"))


def test_all_skips_devices_without_the_precision():
    df = evaluate_devices(get_model("minilm-l6"), "all", DeviceSettings(precision="fp16"))
    assert "google-coral-som" not in set(df["device"]) and "nvidia-l4" in set(df["device"])


def test_allocation_edge_whole_datacenter_share_and_reuse():
    spec = get_model("minilm-l6")
    base = CarbonSettings()
    heavy = CarbonSettings(inferences_per_s=10.0)
    cat = load_catalogue()
    row = lambda carbon, dev, **kw: evaluate_devices(  # noqa: E731
        spec, [dev], DeviceSettings(carbon=carbon, **kw)).iloc[0]
    edge = row(base, "nvidia-jetson-orin-nano-8gb")
    assert edge["allocation"] == "dedicated"
    assert edge["embodied_kg"] == pytest.approx(device_embodied(cat["nvidia-jetson-orin-nano-8gb"], base).total_kg)
    dc1, dc10 = row(base, "nvidia-l4"), row(heavy, "nvidia-l4")
    assert dc1["allocation"] == "shared" and 0 < dc1["allocation_share"] < 1
    assert dc10["embodied_kg"] == pytest.approx(10 * dc1["embodied_kg"])
    life, util = cat["nvidia-l4"].lifetime_years.value, cat["nvidia-l4"].utilisation.value
    busy_s = base.inferences() * dc1["latency_per_inference_s"]
    assert dc1["allocation_share"] == pytest.approx(busy_s / (life * 365 * 24 * 3600 * util))
    pue1 = row(base, "nvidia-l4", pue=1.0)
    assert dc1["operational_kg"] == pytest.approx(pue1["operational_kg"] * cat["nvidia-l4"].pue.value)
    reused = row(base, "nvidia-jetson-orin-nano-8gb", reuse=True)
    assert reused["embodied_kg"] == 0.0 and reused["embodied_device_kg"] > 0
    assert reused["total_carbon_kg"] == pytest.approx(reused["operational_kg"])


def test_embodied_product_footprint_and_component_model():
    cat, carbon = load_catalogue(), CarbonSettings()
    h100 = device_embodied(cat["nvidia-h100-sxm"], carbon)
    assert h100.method == "product footprint" and h100.total_kg == pytest.approx(1312.0 / 8)
    assert h100.chip_kg + h100.memory_kg + h100.board_kg == pytest.approx(h100.total_kg)
    assert h100.memory_kg == pytest.approx(0.42 * 164.0) and h100.chip_kg == pytest.approx(0.25 * 164.0)
    l4 = device_embodied(cat["nvidia-l4"], carbon)
    assert l4.method == "component model"
    expected_chip = 294.5 / 100 * carbon.die_g_per_cm2(5) / 1000
    assert l4.chip_kg == pytest.approx(expected_chip)
    cleaner = device_embodied(cat["nvidia-l4"], CarbonSettings(fab_location="iceland"))
    assert cleaner.chip_kg < l4.chip_kg


def test_estimate_on_device_is_json_able_with_units():
    out = estimate_on_device(get_model("bert-large"), "nvidia-l4",
                             DeviceSettings(workload=WorkloadOptions(tokens=384)))
    text = json.dumps(out)
    assert "latency_s" in out and "total_carbon_kg" in out and "figures" in text
    assert math.isfinite(out["latency_s"]) and out["device"]["id"] == "nvidia-l4"


def test_devices_command_fits_80_columns_and_json_parses():
    app = typer.Typer()
    devices_cli.register(app)
    app.callback()(lambda: None)
    runner = CliRunner()
    res = runner.invoke(app, ["devices"])
    assert res.exit_code == 0
    assert max(len(line) for line in res.output.splitlines()) <= 80
    assert "nvidia-h100-sxm" in res.output and "Sources:" in res.output
    data = json.loads(runner.invoke(app, ["devices", "--json"]).output)
    assert {d["id"] for d in data} >= set(REQUIRED)


def test_bert_large_registry_entry():
    spec = get_model("bert-large")
    assert spec.encoders[0].layers == 24 and spec.encoders[0].seq_len == 384
    assert param_count(spec) / 1e6 == pytest.approx(335.1, abs=0.2)


def test_render_estimate_fits_80_columns():
    out = estimate_on_device(get_model("llama-3-8b"), "nvidia-jetson-agx-orin-64gb",
                             DeviceSettings(reuse=True, workload=WorkloadOptions(prefill_tokens=64, decode_tokens=8)))
    text = devices_cli.render_estimate(out)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "sunk" in text and "memory-bound" in text


def test_duty_cycle_constraint_flags_a_device_that_cannot_keep_up():
    spec = get_model("minilm-l6")
    fast = CarbonSettings(inferences_per_s=2000.0, hours_per_day=24.0)
    row = evaluate_devices(spec, ["raspberry-pi-5-8gb"], DeviceSettings(carbon=fast)).iloc[0]
    assert row["duty_cycle"] > 1 and not row["ok_duty_cycle"] and not row["feasible"]
    off = DeviceSettings(carbon=fast, constraints=Constraints(check_duty_cycle=False, max_latency_ms=None))
    assert evaluate_devices(spec, ["raspberry-pi-5-8gb"], off).iloc[0]["feasible"]


def test_validation_fixture_rows_name_catalogue_devices_and_sources():
    import csv
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / "fixtures" / "device_measurements.csv"
    rows = list(csv.DictReader(path.open()))
    cat = load_catalogue()
    assert {r["role"] for r in rows} == {"calibration", "held-out", "info"}
    for r in rows:
        assert r["device"] in cat and r["source_url"].startswith("https://github.com/mlcommons/")
        assert float(r["value"]) > 0 and r["round"].startswith("MLPerf Inference") and r["submitter"]
