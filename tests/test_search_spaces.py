"""The search over other hardware spaces: memory chosen per design, bought devices beside the template, and
objectives at a quantile of the uncertainty table (surrogate accuracy: seconds)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from catransformers.errors import UserError
from catransformers.search import config_from_dict, run_search
from catransformers.search.problem import Problem

BASE = {"model": {"id": "minilm-l6"}, "accuracy": {"task": "surrogate"},
        "search": {"trials": 4, "sobol_trials": 4, "batch_size": 2}}


def _run(tmp_path: Path, **sections) -> pd.DataFrame:
    raw = {k: dict(v) for k, v in BASE.items()}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    run_search(config_from_dict(raw), tmp_path / "run")
    return pd.read_csv(tmp_path / "run" / "trials.csv")


def test_memory_auto_reaches_the_trials_table(tmp_path: Path):
    table = _run(tmp_path, hardware={"memory": "auto", "width": [32, 64], "depth": [8]})
    done = table[table.status == "completed"]
    assert set(done.dram_type) <= {"lpddr3_20nm", "lpddr4", "lpddr4x", "lpddr5", "lpddr5x", "none"}
    assert (done.dram_gb < 1.0).all()  # a 22 MB model never needs the paper's 1 GB


def test_devices_beside_the_template(tmp_path: Path):
    raw = {**BASE, "hardware": {"devices": ["nvidia-l4", "nvidia-t4"], "device_batches": [1, 4], "width": [32],
                                "depth": [8]}}
    problem = Problem.from_config(config_from_dict(raw))
    designs = problem.sweep(problem.spec)
    assert designs.groupby("hardware_kind").size().to_dict() == {"device": 2 * 2, "template": 3 * 1 * 1 * 5 * 3 * 3}
    assert set(designs.loc[designs.hardware_kind == "device", "device"]) == {"nvidia-l4", "nvidia-t4"}
    table = _run(tmp_path, hardware=raw["hardware"])
    front = table[table.status == "completed"]
    assert set(front.hardware_kind) <= {"device", "template"} and not front.empty


def test_objectives_at_a_quantile_keep_the_nominal_values(tmp_path: Path):
    table = _run(tmp_path, hardware={"width": [32, 64], "depth": [8]},
                 search={"objective_quantile": 0.9, "uncertainty_samples": 30})
    done = table[table.status == "completed"]
    assert (done.total_carbon_kg > done.total_carbon_kg_nominal).all()  # P90 above the nominal design here


def test_devices_need_the_nested_strategy():
    raw = {**BASE, "hardware": {"devices": ["nvidia-l4"]}, "search": {**BASE["search"], "strategy": "joint"}}
    with pytest.raises(UserError, match="nested strategy"):
        config_from_dict(raw)
