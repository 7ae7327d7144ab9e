"""`catransformers estimate` / `sweep`: JSON keys, output files, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

HW = "clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2"


def _cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from catransformers.cli import main; sys.argv = ['catransformers', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_estimate_json_has_unit_suffixed_keys() -> None:
    res = _cli("estimate", "-m", "clip-vit-b-16", "--hw", HW, "--json", "--region", "british_columbia")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key in ("latency_s", "energy_per_inference_j", "area_mm2", "embodied_die_kg", "embodied_dram_kg",
                "operational_kg", "total_carbon_kg", "tops", "bound", "breakdown", "usage"):
        assert key in out
    assert out["usage"]["use_ci_g_per_kwh"] == 68
    assert out["total_carbon_kg"] == pytest.approx(
        out["embodied_die_kg"] + out["embodied_dram_kg"] + out["operational_kg"])
    assert "pipelined timing" in out["dataflow"]  # the default timing mode is named in the output


def test_estimate_readable_output_shows_usage_and_breakdown() -> None:
    res = _cli("estimate", "-m", "tinyclip-8m-16", "--hw", HW, "--prune", "vision.layers=6",
               "--lifetime-years", "5", "--inferences-per-s", "10")
    assert res.returncode == 0, res.stderr
    assert "usage profile" in res.stdout and "5 years x 10 inferences/s" in res.stdout
    assert "FFN GEMMs" in res.stdout and "embodied DRAM" in res.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["-m", "clip-vit-b-61", "--hw", HW], "did you mean"),
    (["-m", "clip-vit-b-16", "--hw", "clusters=1,width"], "not key=value"),
    (["-m", "clip-vit-b-16", "--hw", HW.replace("width=256", "width=0")], "greater than 0"),
    (["-m", "clip-vit-b-16", "--hw", HW, "--prune", "text.layers=13"], "outside 1..12"),
    (["-m", "clip-vit-b-16", "--hw", HW, "--region", "mars"], "allowed: california"),
    (["-m", "clip-vit-b-16", "--hw", HW, "--node", "11"], "allowed: 28, 22"),
    (["-m", "clip-vit-b-16", "--hw", HW, "--dram", "ddr9"], "lpddr3_20nm"),
])
def test_estimate_errors_are_one_line_exit_2(args: list[str], needle: str) -> None:
    res = _cli("estimate", *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert needle.lower() in lines[0].lower()
    assert "Traceback" not in res.stderr


def test_sweep_writes_everything_and_refuses_non_empty_dir(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    cfg = tmp_path / "space.toml"
    cfg.write_text('[hardware]\nclusters = [1, 2]\ndepth = [8, 16]\n[carbon]\nregion = "taiwan"\n')
    res = _cli("sweep", "-m", "tinyclip-39m-16", "--out", str(out), "--width", "32,64", "--config", str(cfg),
               "--max-latency-ms", "none")
    assert res.returncode == 0, res.stderr
    for name in ("designs.csv", "designs.parquet", "pareto.csv", "pareto.png", "summary.json"):
        assert (out / name).stat().st_size > 0
    df = pd.read_parquet(out / "designs.parquet")
    assert len(df) == 2 * 2 * 2 * 5 * 3 * 3  # clusters x width x depth from flags/config, rest the paper grid
    assert set(df.width) == {32, 64} and df.ok_latency.all()
    front = pd.read_csv(out / "pareto.csv")
    assert front.feasible.all() and len(front) >= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["usage"]["use_ci_g_per_kwh"] == 524
    assert all(f"\n {k} " in res.stdout for k in ("carbon", "latency", "energy"))  # best design per objective
    again = _cli("sweep", "-m", "tinyclip-39m-16", "--out", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr


def test_sweep_bad_list_value(tmp_path: Path) -> None:
    res = _cli("sweep", "-m", "tinyclip-8m-16", "--out", str(tmp_path / "x"), "--depth", "8,-2")
    assert res.returncode == 2 and "depth=-2" in res.stderr and "greater than 0" in res.stderr
