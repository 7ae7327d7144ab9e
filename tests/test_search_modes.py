"""Every mode end to end on the accuracy surrogate; constraint pre-checks; failed trials; workers = 2 vs 1."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from catransformers.search import config_from_dict, run_search
from catransformers.search.surrogate import LOG_ENV

HW_FIXED = {"clusters": 2, "width": 128, "depth": 16, "l2_kb": 256, "l2_bw": 64, "glb_mb": 4}


def _cfg(tmp_path: Path, **sections):
    raw = {"model": {"id": "minilm-l6"},
           "search": {"trials": 6, "sobol_trials": 4, "batch_size": 2, "seed": 3, "acqf_restarts": 2,
                      "acqf_raw_samples": 64},
           "accuracy": {"task": "surrogate"}}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return config_from_dict(raw)


@pytest.fixture
def evals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "surrogate_evals.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


def _evaluated(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("mode", ["carbon", "latency", "energy", "all"])
def test_mode_end_to_end(tmp_path: Path, evals: Path, mode: str):
    out = run_search(_cfg(tmp_path, search={"mode": mode}), tmp_path / "run")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    objectives = [o["name"] for o in info["objectives"]]
    assert objectives[0] == "accuracy" and len(objectives) == (3 if mode == "all" else 2)
    assert info["trials"] == 6 and info["n_completed"] + info["n_infeasible"] + info["n_failed"] == 6
    table = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert pd.read_parquet(tmp_path / "run" / "trials.parquet").shape == table.shape
    done = table[table.status == "completed"]
    assert len(done) >= 1 and done["feasible"].all()
    for col in ("total_carbon_kg", "embodied_die_kg", "embodied_dram_kg", "operational_kg", "latency_s",
                "energy_per_inference_j", "area_mm2", "tops", "clusters", "width", "depth", "l2_kb", "l2_bw",
                "glb_mb", "main.layers", "main.heads", "main.ffn_blocks", "main.hidden_blocks", "prune"):
        assert done[col].notna().all(), col
    # the paper's constraints hold on every design; the latency cap only where latency is no objective
    assert (done.tops <= 20.48 + 1e-9).all() and (done.area_mm2 <= 31.99).all()
    if mode in ("carbon", "energy"):
        assert (done.latency_s <= 0.050).all()
    # nested: each model's hardware is the best of the whole sweep for the mode's hardware objective
    assert info["n_finetunes"] == len(set(_evaluated(evals))) == len(_evaluated(evals))
    assert info["hypervolume"] > 0 and not out.front.empty
    assert set(out.front.trial) <= set(done.trial)
    # the unpruned model is scored once, outside the fine-tune count; every pruned model scores below it
    assert info["baseline"]["metric"] == "surrogate" and done.accuracy.max() <= info["baseline"]["score"] + 0.02
    assert (done.accuracy_ci_low < done.accuracy).all() and (done.accuracy < done.accuracy_ci_high).all()
    assert "codecarbon" not in info and info["table"]["rows"] == len(table)


def test_hardware_mode_sweeps_without_any_finetune(tmp_path: Path, evals: Path):
    cfg = _cfg(tmp_path, search={"mode": "hardware"}, model={"prune": "layers=4,heads=8"})
    out = run_search(cfg, tmp_path / "run")
    assert _evaluated(evals) == [] and out.info["n_finetunes"] == 0
    front = out.front
    assert len(front) >= 2 and front.accuracy.isna().all()
    assert (front["main.layers"] == 4).all()
    # the exhaustive sweep's front: no design of it is dominated in (latency, carbon)
    lat, co2 = front.latency_s.to_numpy(), front.total_carbon_kg.to_numpy()
    for i in range(len(front)):
        assert not ((lat <= lat[i]) & (co2 <= co2[i]) & ((lat < lat[i]) | (co2 < co2[i]))).any()
    joint = run_search(_cfg(tmp_path, search={"mode": "hardware", "strategy": "joint"}), tmp_path / "joint")
    assert joint.info["trials"] == 6 and _evaluated(evals) == []


def test_model_mode_keeps_the_fixed_accelerator(tmp_path: Path, evals: Path):
    cfg = _cfg(tmp_path, search={"mode": "model", "model_objective": "carbon"}, hardware={"fixed": HW_FIXED})
    out = run_search(cfg, tmp_path / "run")
    done = out.table[out.table.status == "completed"]
    assert [o["name"] for o in out.info["objectives"]] == ["accuracy", "total_carbon_kg"]
    for key, value in HW_FIXED.items():
        assert (done[key] == value).all()
    assert len(done) == out.info["n_finetunes"] == len(_evaluated(evals))


def test_joint_prechecks_never_finetune_an_infeasible_proposal(tmp_path: Path, evals: Path):
    # a space where most accelerators break the TOPS or area cap
    cfg = _cfg(tmp_path, search={"strategy": "joint", "trials": 10, "sobol_trials": 8},
               hardware={"clusters": [1, 4], "width": [32, 256], "depth": [2, 64], "glb_mb": [2, 8]},
               constraints={"max_tops": 10.0, "max_area_mm2": 25.0})
    out = run_search(cfg, tmp_path / "run")
    trials = json.loads((tmp_path / "run" / "state" / "trials.json").read_text())
    infeasible = [t for t in trials if t["status"] == "infeasible"]
    completed = [t for t in trials if t["status"] == "completed"]
    assert infeasible, "the space should produce infeasible proposals"
    for t in infeasible:
        assert t["accuracy"] is None and ("tops" in t["error"] or "area" in t["error"])
    evaluated = _evaluated(evals)
    assert len(evaluated) == len(set(evaluated))  # never twice, even for hardware-only changes
    assert set(evaluated) == {t["prune"] for t in completed}
    assert not set(evaluated) & ({t["prune"] for t in infeasible} - {t["prune"] for t in completed})
    d = out.table[out.table.status == "completed"]
    assert (d.tops <= 10.0).all() and (d.area_mm2 <= 25.0).all()


def test_failed_trial_is_recorded_and_the_search_goes_on(tmp_path: Path, evals: Path):
    cfg = _cfg(tmp_path, accuracy={"surrogate_fail": "layers=[34],"}, search={"trials": 8, "sobol_trials": 6})
    out = run_search(cfg, tmp_path / "run")
    table = out.table
    failed = table[table.status == "failed"]
    assert not failed.empty and failed.error.str.contains("NaN").all()
    assert (failed["main.layers"].isin([3, 4])).all()
    assert out.info["trials"] == 8 and out.info["n_completed"] >= 1
    assert (table[table.status == "completed"]["main.layers"].isin([5, 6])).all()


def test_workers_two_gives_the_same_results_as_one(tmp_path: Path, evals: Path):
    def rows(workers: int) -> set:
        cfg = _cfg(tmp_path, search={"workers": workers, "trials": 6}, accuracy={"surrogate_delay_s": 0.2})
        out = run_search(cfg, tmp_path / f"w{workers}")
        t = out.table
        return {(r.prune, r.clusters, r.width, r.depth, r.l2_kb, r.l2_bw, r.glb_mb, round(r.accuracy, 9),
                 round(r.total_carbon_kg, 12)) for r in t.itertuples()}

    one, two = rows(1), rows(2)
    assert len(one) == 6 and one == two


def test_report_command_rebuilds_the_report(tmp_path: Path, evals: Path):
    from typer.testing import CliRunner

    from catransformers.cli import app

    run_search(_cfg(tmp_path, search={"trials": 4}), tmp_path / "run")
    (tmp_path / "run" / "report.html").unlink(missing_ok=True)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<table" in html and "total_carbon" in html.replace(" ", "_").lower()
    printed = CliRunner().invoke(app, ["search", "--print-config", "--trials", "9", "--mode", "energy"])
    assert printed.exit_code == 0
    assert 'mode = "energy"' in printed.output and "trials = 9" in printed.output
    assert "energy_per_inference_j = 0.05" in printed.output
