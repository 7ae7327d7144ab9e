"""Persistence: a run killed with SIGKILL resumes with no completed trial lost and no fine-tune repeated;
Ctrl-C saves and says how to resume; an existing run folder is never overwritten."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catransformers.errors import UserError
from catransformers.search import config_from_dict, load_config, run_search
from catransformers.search.surrogate import LOG_ENV

CLI = [sys.executable, "-c", "from catransformers.cli import main; main()"]
CONFIG = """
[model]
id = "minilm-l6"
[search]
trials = {trials}
sobol_trials = 4
batch_size = 2
seed = 5
acqf_restarts = 2
acqf_raw_samples = 64
[accuracy]
task = "surrogate"
surrogate_delay_s = {delay}
"""


def _journal(run: Path) -> list[dict]:
    path = run / "state" / "trials.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _start(tmp_path: Path, run: Path, trials: int, delay: float) -> tuple[subprocess.Popen, Path]:
    cfg = tmp_path / "exp.toml"
    cfg.write_text(CONFIG.format(trials=trials, delay=delay))
    log = tmp_path / "evals.log"
    env = {**os.environ, LOG_ENV: str(log), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([*CLI, "search", "--config", str(cfg), "--out", str(run)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, log


def _wait_for_completed(proc: subprocess.Popen, run: Path, n: int, timeout_s: float = 150) -> None:
    end = time.time() + timeout_s
    while time.time() < end:
        if sum(t["status"] == "completed" for t in _journal(run)) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"search exited early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    pytest.fail("search made no progress")


def test_sigkill_then_resume_loses_nothing_and_repeats_no_finetune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    run = tmp_path / "run"
    proc, log = _start(tmp_path, run, trials=10, delay=0.2)
    _wait_for_completed(proc, run, 5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = {t["trial"]: t for t in _journal(run) if t["status"] == "completed"}
    assert 5 <= len(before) < 10
    evaluated_before = log.read_text().splitlines()

    monkeypatch.setenv(LOG_ENV, str(log))
    cfg = load_config(str(run / "config.toml"))
    out = run_search(cfg, run, resume=True)
    after = {t["trial"]: t for t in out.trials}
    assert len(after) == 10 and all(t["status"] == "completed" for t in after.values())
    for idx, rec in before.items():  # nothing completed was lost or changed
        assert after[idx]["params"] == rec["params"]
        assert after[idx]["accuracy"]["score"] == rec["accuracy"]["score"]
    evaluated = log.read_text().splitlines()
    assert len(evaluated) > len(evaluated_before)
    assert len(evaluated) == len(set(evaluated)), "a fine-tune was repeated"
    assert out.info["sessions"] == 2 and out.info["n_finetunes"] == len(set(evaluated))


def test_ctrl_c_saves_and_prints_how_to_resume(tmp_path: Path):
    run = tmp_path / "run"
    proc, _ = _start(tmp_path, run, trials=40, delay=0.3)
    _wait_for_completed(proc, run, 3)
    proc.send_signal(signal.SIGINT)
    out_text, err_out = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"catransformers search --resume {run}" in (err_out + out_text).replace("\n", "")
    info = json.loads((run / "run.json").read_text())
    assert info["interrupted"] is True and info["n_completed"] >= 3


def test_existing_run_folder_is_refused(tmp_path: Path):
    cfg = config_from_dict({"model": {"id": "minilm-l6"}, "accuracy": {"task": "surrogate"},
                            "search": {"trials": 2, "sobol_trials": 2, "batch_size": 2}})
    run_search(cfg, tmp_path / "run")
    with pytest.raises(UserError, match="already holds a run; continue it with `catransformers search --resume"):
        run_search(cfg, tmp_path / "run")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not empty"):
        run_search(cfg, tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
