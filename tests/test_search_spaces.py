"""The search over other hardware spaces: memory chosen per design, bought devices beside the template, and
objectives at a quantile of the uncertainty table (surrogate accuracy: seconds)."""

from __future__ import annotations

import json
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


def _problem(**sections) -> Problem:
    raw = {k: dict(v) for k, v in BASE.items()}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return Problem.from_config(config_from_dict(raw))


def test_memory_choices_become_parameters_of_joint_and_random():
    auto = _problem(hardware={"memory": "auto"}, search={"strategy": "joint"})
    assert auto.memory_values == {"memory": ["none", "lpddr3_20nm", "lpddr4", "lpddr4x", "lpddr5", "lpddr5x"],
                                  "memory_part": ["smallest", "next"]}
    one = _problem(hardware={"memory": ["lpddr4"]}, search={"strategy": "random"})
    assert one.memory_values == {"memory_part": ["smallest", "next"]}  # one technology: only its part varies
    assert _problem(hardware={"memory": ["none"]}).memory_values == {}
    assert _problem().memory_values == {}  # no memory list: the dram_* values, as before


@pytest.mark.parametrize("strategy", ["joint", "random"])
def test_joint_and_random_search_the_memory(tmp_path: Path, strategy: str):
    from catransformers.memory import next_part_gb, smallest_part_gb
    from catransformers.models import parse_prune, prune_spec
    from catransformers.workload.resident import resident_bytes

    hardware = {"memory": "auto", "glb_mb": [2, 32]}
    problem = _problem(hardware=hardware, search={"strategy": strategy})
    _run(tmp_path, hardware=hardware, constraints={"max_area_mm2": 200},
         search={"strategy": strategy, "trials": 8, "sobol_trials": 6, "seed": 3, "acqf_restarts": 2,
                 "acqf_raw_samples": 64})
    trials = json.loads((tmp_path / "run" / "state" / "trials.json").read_text())
    assert len(trials) == 8 and len({t["hw"]["memory"] for t in trials}) >= 3  # technologies explored
    for t in trials:
        hw, design = t["hw"], t["designs"][0]
        assert design["dram_type"] == hw["memory"]
        pruned = prune_spec(problem.spec, parse_prune(problem.spec, t["prune"]))
        need = float(resident_bytes(pruned, problem.settings.workload, 8))
        if hw["memory"] == "none":  # on chip: feasible only where the weights fit the global buffer
            assert design["dram_gb"] == 0 and design["memory_candidate"] == "on_chip"
            assert need < hw["glb_mb"] * 1024**2 or "global buffer" in t["error"]
            continue
        smallest = smallest_part_gb(hw["memory"], need)
        want = smallest if hw["memory_part"] == "smallest" else next_part_gb(hw["memory"], smallest)
        assert design["dram_gb"] == pytest.approx(want) and design["memory_candidate"] == hw["memory_part"]


def test_joint_trials_are_ranked_at_the_objective_quantile(tmp_path: Path):
    table = _run(tmp_path, hardware={"width": [32, 64], "depth": [8, 16]},
                 search={"strategy": "random", "objective_quantile": 0.9, "uncertainty_samples": 30})
    done = table[table.status == "completed"]
    assert not done.empty and (done.total_carbon_kg > done.total_carbon_kg_nominal).all()


def test_an_on_chip_only_space_with_nothing_else_to_vary_is_refused():
    with pytest.raises(UserError, match="nothing to search"):
        _problem(hardware={"memory": ["none"], "clusters": [1], "width": [64], "depth": [16], "l2_kb": [128],
                           "l2_bw": [64], "glb_mb": [32]},
                 search={"strategy": "joint", "mode": "hardware"}, model={"prune": "layers=3"})


def test_devices_are_ranked_at_the_objective_quantile_too(tmp_path: Path):
    table = _run(tmp_path, hardware={"devices": ["nvidia-l4", "nvidia-t4"], "template": False},
                 search={"objective_quantile": 0.9, "uncertainty_samples": 40})
    done = table[table.status == "completed"]
    assert not done.empty and set(done.hardware_kind) == {"device"}
    assert (done.total_carbon_kg > done.total_carbon_kg_nominal).all()  # P90 above the nominal device
