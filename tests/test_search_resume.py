"""Persistence: a run killed with SIGKILL resumes with no completed trial lost and no fine-tune repeated;
Ctrl-C saves and says how to resume; an existing run folder is never overwritten."""

from __future__ import annotations

import json
import os
import random
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


def _start(tmp_path: Path, run: Path, trials: int, delay: float,
           fused_logei: bool = True) -> tuple[subprocess.Popen, Path]:
    cfg = tmp_path / "exp.toml"
    cfg.write_text(CONFIG.format(trials=trials, delay=delay).replace(
        "seed = 5\n", f"seed = 5\nfused_logei = {str(fused_logei).lower()}\n"))
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


def _resume_proc(run: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, LOG_ENV: str(log), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([*CLI, "search", "--resume", str(run)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _completed(run: Path) -> dict[int, dict]:
    return {t["trial"]: t for t in _journal(run) if t["status"] == "completed"}


def _kill_after_journal_write(proc: subprocess.Popen, run: Path, extra: int, timeout_s: float = 150) -> None:
    """SIGKILL as soon as the journal shows `extra` more completed trials (i.e. right after a journal write)."""
    target = len(_completed(run)) + extra
    end = time.time() + timeout_s
    while time.time() < end and proc.poll() is None:
        if len(_completed(run)) >= target:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["after_journal_write", "random"])
def test_sigkill_cycles_then_resume_lose_change_or_repeat_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   when: str):
    """Kill, resume, kill again (seeded moments), then finish: every completed trial survives unchanged."""
    rng = random.Random(11)
    run = tmp_path / "run"
    proc, log = _start(tmp_path, run, trials=10, delay=0.15)
    snapshots: list[dict[int, dict]] = []
    for cycle in range(2):
        if cycle:
            proc = _resume_proc(run, log)
        if when == "after_journal_write":
            _kill_after_journal_write(proc, run, extra=1)
        else:
            _wait_for_completed(proc, run, len(_completed(run)) + 1)
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        snapshots.append(_completed(run))
    monkeypatch.setenv(LOG_ENV, str(log))
    out = run_search(load_config(str(run / "config.toml")), run, resume=True)
    after = {t.trial: t for t in out.trials}
    assert len(after) == 10 and all(t.status == "completed" for t in after.values())
    for snap in snapshots:  # nothing completed was lost or changed
        for idx, rec in snap.items():
            assert after[idx].params == rec["params"] and after[idx].accuracy["score"] == rec["accuracy"]["score"]
    evaluated = log.read_text().splitlines()
    assert len(evaluated) == len(set(evaluated)), "a fine-tune was repeated"
    assert out.info["n_finetunes"] == len(set(evaluated)) == len({t.prune for t in after.values()})
    assert len(out.info["sessions"]) == 3


def test_ctrl_c_saves_and_prints_how_to_resume(tmp_path: Path):
    run = tmp_path / "run"
    # a private, empty extensions folder would make this run build BoTorch's kernel (a minute); the interrupt
    # during a build is held until the build ends (search/kernel.py), so this test keeps it out of the way
    proc, _ = _start(tmp_path, run, trials=40, delay=0.3, fused_logei=False)
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
