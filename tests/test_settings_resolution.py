"""One path from input to CostSettings: profile < config < flags, competing keys, and the CLI built on it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from catransformers.cli import main
from catransformers.errors import UserError
from catransformers.settings import cost_settings, resolve

HW = "clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2"


def _json(argv: list[str]) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())


def test_flags_beat_the_config_which_beats_the_profile():
    sections = resolve({"carbon": {"lifetime_years": 5.0}, "cost": {"profile": "paper"}},
                       {"carbon.inferences_per_s": 2.0})
    s = cost_settings(sections)
    assert s.profile == "paper" and s.timing == "ideal" and s.tech.mac_energy_pj == 2.2  # from the profile
    assert s.carbon.lifetime_years == 5.0  # the config file
    assert s.carbon.inferences_per_s == 2.0  # the flag
    # the profile's fixed 3e7 inference count gave way to the rate the user set
    assert s.carbon.total_inferences is None and s.carbon.inferences() == pytest.approx(5 * 365 * 6 * 3600 * 2)


def test_a_region_given_by_the_user_replaces_the_profiles_intensity():
    s = cost_settings(resolve(None, {"cost.profile": "paper", "carbon.region": "taiwan"}))
    assert s.carbon.ci_g_per_kwh is None and s.carbon.use_ci_g_per_kwh() == 524.0


def test_competing_keys_in_one_layer_are_refused_with_the_flags_named():
    with pytest.raises(UserError, match="--region and --ci-g-per-kwh"):
        resolve(None, {"carbon.region": "taiwan", "carbon.ci_g_per_kwh": 100.0})
    with pytest.raises(UserError, match=r"carbon\.total_inferences and carbon\.inferences_per_s"):
        resolve({"carbon": {"total_inferences": 1e6, "inferences_per_s": 2.0}}, {})


def test_unknown_profile_and_timing_are_one_line_errors():
    with pytest.raises(UserError, match="paper"):
        resolve(None, {"cost.profile": "papers"})
    with pytest.raises(UserError, match="--timing"):
        cost_settings(resolve(None, {"cost.timing": "fast"}))


def test_estimate_profile_and_override_reach_the_cost_model():
    paper = _json(["estimate", "-m", "clip-vit-b-16", "--hw", HW, "--profile", "paper", "--json"])
    assert paper["profile"] == "paper" and paper["hardware"]["dram_bw_gbps"] == pytest.approx(80.0)
    assert paper["usage"]["total_inferences"] == 3e7
    override = _json(["estimate", "-m", "clip-vit-b-16", "--hw", HW, "--profile", "paper", "--timing", "scalesim",
                      "--json"])
    assert "scalesim" in override["dataflow"] and override["latency_s"] > paper["latency_s"]
    parts = paper["energy_breakdown_j"]
    assert sum(parts.values()) == pytest.approx(paper["energy_per_inference_j"])


def test_estimate_uncertainty_bands_are_ordered_and_seeded():
    a = _json(["estimate", "-m", "minilm-l6", "--hw", HW, "--uncertainty", "50", "--json"])["uncertainty"]
    b = _json(["estimate", "-m", "minilm-l6", "--hw", HW, "--uncertainty", "50", "--json"])["uncertainty"]
    assert a == b  # seeded
    band = a["total_carbon_kg"]
    assert band["p05"] <= band["p50"] <= band["p95"] and a["samples"] == 50


def test_sweep_uncertainty_writes_band_columns_and_front_odds(tmp_path: Path):
    out = tmp_path / "sw"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["sweep", "-m", "tinyclip-8m-16", "--out", str(out), "--width", "32,64", "--depth", "8,16",
                     "--uncertainty", "40"]) == 0
    designs = pd.read_parquet(out / "designs.parquet")
    assert {"total_carbon_kg_p05", "total_carbon_kg_p50", "total_carbon_kg_p95"} <= set(designs.columns)
    front = json.loads((out / "summary.json").read_text())["uncertainty"]["front"]
    assert sum(d["prob_min_carbon"] for d in front) == pytest.approx(1.0)


def test_estimate_on_a_bought_device():
    out = _json(["estimate", "-m", "bert-large", "--device", "nvidia-l4", "--tokens", "384", "--json"])
    assert out["device"]["id"] == "nvidia-l4" and out["latency_s"] > 0 and out["total_carbon_kg"] > 0
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["estimate", "-m", "bert-large", "--device", "nvidia-l4", "--hw", HW]) == 2
    assert "either --hw" in err.getvalue()


def test_sweep_over_devices_and_the_template_side_by_side(tmp_path: Path):
    out = tmp_path / "sw"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["sweep", "-m", "minilm-l6", "--out", str(out), "--devices", "nvidia-l4,nvidia-t4", "--template",
                     "--width", "32,64", "--depth", "8", "--batches", "1,8"]) == 0
    designs = pd.read_parquet(out / "designs.parquet")
    kinds = designs.groupby("hardware_kind").size().to_dict()
    assert kinds == {"device": 2 * 2, "template": 2 * 1 * 3 * 5 * 3 * 3}  # devices x batches; the template grid
    assert designs.loc[designs.hardware_kind == "device", "device"].tolist() == ["nvidia-l4"] * 2 + ["nvidia-t4"] * 2
    best = json.loads((out / "summary.json").read_text())["best"]
    assert set(best) == {"min_carbon", "min_latency", "min_energy"}
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["sweep", "-m", "minilm-l6", "--out", str(tmp_path / "x"), "--batches", "1,8"]) == 2
    assert "--devices" in err.getvalue() and not (tmp_path / "x").exists()
