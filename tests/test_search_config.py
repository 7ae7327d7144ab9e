"""Experiment config: validation errors are one line naming the key (and a suggestion), exit code 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from catransformers.errors import UserError
from catransformers.search import config_from_dict, config_to_toml, load_config, preset_names
from catransformers.search.engine import Engine

CLI = [sys.executable, "-c", "from catransformers.cli import main; main()"]


def _raw(**sections) -> dict:
    raw = {"model": {"id": "minilm-l6"}, "search": {"trials": 4, "sobol_trials": 2, "batch_size": 2},
           "accuracy": {"task": "surrogate"}}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return raw


def test_misspelled_top_level_key_suggests_the_right_one():
    raw = _raw()
    raw["serach"] = {"trials": 3}
    with pytest.raises(UserError, match=r"unknown key 'serach'; did you mean 'search'\?"):
        config_from_dict(raw)


def test_misspelled_nested_key_suggests_the_right_one():
    with pytest.raises(UserError, match=r"unknown key 'search.trails'; did you mean 'search.trials'\?"):
        config_from_dict(_raw(search={"trails": 3}))
    with pytest.raises(UserError, match=r"'carbon.lifetime_yeras'; did you mean 'carbon.lifetime_years'"):
        config_from_dict(_raw(carbon={"lifetime_yeras": 3}))
    with pytest.raises(UserError, match=r"'model.space.main.layer'; did you mean 'layers'"):
        config_from_dict(_raw(model={"space": {"main": {"layer": [3, 6]}}}))


def test_wrong_type_and_bad_values_are_one_line():
    with pytest.raises(UserError, match=r"search.trials: must be a number, not text") as err:
        config_from_dict(_raw(search={"trials": "many"}))
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match=r"search\.mode"):
        config_from_dict(_raw(search={"mode": "carbn"}))


def test_inverted_empty_and_out_of_range_spaces():
    with pytest.raises(UserError, match=r"model.space.main.layers = \[5, 3\] is an inverted range"):
        config_from_dict(_raw(model={"space": {"main": {"layers": [5, 3]}}}))
    with pytest.raises(UserError, match=r"outside 1..6"):
        config_from_dict(_raw(model={"space": {"main": {"layers": [2, 9]}}}))
    with pytest.raises(UserError, match="hardware space: 'width' has no values"):
        config_from_dict(_raw(hardware={"width": []}))


def test_mode_without_the_data_it_needs():
    with pytest.raises(UserError, match=r"mode 'model' needs a fixed accelerator"):
        config_from_dict(_raw(search={"mode": "model"}))


def test_reference_point_that_excludes_everything_writes_nothing(tmp_path: Path):
    cfg = config_from_dict(_raw(search={"reference": {"total_carbon_kg": 1e-4}}))
    with pytest.raises(UserError, match=r"reference point total_carbon_kg = 0.0001 excludes every design"):
        Engine.start(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(UserError, match="excludes every design"):
        config_from_dict(_raw(search={"reference": {"latency_s": -1}, "mode": "latency"}))


def test_print_config_round_trips_and_fills_the_reference_point():
    cfg = load_config(None, {"search.trials": 7})
    text = config_to_toml(cfg)
    # the offline default's own reference point, fitted to MiniLM's range (presets/offline_default.toml)
    assert tomllib.loads(text)["search"]["reference"] == {"accuracy": 0.4, "total_carbon_kg": 0.1}
    again = config_from_dict(tomllib.loads(text))
    assert again == cfg
    assert again.search.trials == 7 and again.model.id == "minilm-l6"


def test_every_preset_validates():
    names = preset_names()
    assert {"offline_default", "clip_b16_carbon", "clip_b32_all", "bert_base_carbon", "vit_b16_carbon",
            "llama3_8b_carbon"} <= set(names)
    for mode in ("carbon", "latency", "energy", "all", "hardware", "model"):
        assert load_config(f"clip_b16_{mode}").search.mode == mode
        assert load_config(f"clip_b32_{mode}").model.id == "clip-vit-b-32"
    for name in names:
        load_config(name)


def test_cli_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[search]\nmode = "carbon"\ntrails = 3\n')
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([*CLI, "search", "--config", str(bad), "--out", str(out)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: config: unknown key 'search.trails'; did you mean 'search.trials'?"
    assert not out.exists()
    proc = subprocess.run([*CLI, "search", "--config", "no_such_preset"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error: config 'no_such_preset'")


def test_missing_weights_fail_before_anything_is_written(tmp_path: Path):
    cfg = load_config("clip_b16_carbon", {"search.trials": 2})
    with pytest.raises(UserError, match=r"model 'clip-vit-b-16'"):
        Engine.start(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_yaml_config_is_read_like_toml(tmp_path: Path):
    path = tmp_path / "exp.yaml"
    path.write_text("model:\n  id: minilm-l6\nsearch:\n  mode: latency\n  trials: 5\naccuracy:\n  task: surrogate\n")
    cfg = load_config(str(path))
    assert cfg.search.mode == "latency" and cfg.search.trials == 5
    path.write_text("search:\n  trails: 5\n")
    with pytest.raises(UserError, match=r"did you mean 'search\.trials'"):
        load_config(str(path))
