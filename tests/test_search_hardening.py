"""Trust nothing stored: a damaged journal, a torn fine-tune log, an edited config, a half-created folder, an
unreachable Ray address and BoTorch's extension lock each end in a one-line error or are handled, never in a
silent restart, merged records, mixed results or an endless wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from catransformers.errors import UserError
from catransformers.search import config_from_dict, load_config, run_search
from catransformers.search import workers as workers_mod
from catransformers.search.records import Status, TrialRecord, checksum_ok, with_checksum
from catransformers.search.store import RunStore
from catransformers.search.surrogate import LOG_ENV
from catransformers.search.workers import Executor, check_reachable

RAW = {"model": {"id": "minilm-l6"}, "accuracy": {"task": "surrogate"},
       "search": {"trials": 4, "sobol_trials": 4, "batch_size": 2, "seed": 2}}


def _cfg(**search):
    return config_from_dict({**RAW, "search": {**RAW["search"], **search}})


@pytest.fixture
def done_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "evals.log"))
    run = tmp_path / "run"
    run_search(_cfg(), run)
    return run


def _resume(run: Path, **overrides):
    return run_search(load_config(str(run / "config.toml"), overrides), run, resume=True)


# ------------------------------------------------------------------ records


def test_trial_record_json_round_trip_and_checksum():
    rec = TrialRecord(trial=3, params={"main__layers": 4}, prune="layers=4", status=Status.COMPLETED,
                      accuracy={"score": 0.5}, objectives={"accuracy": 0.5}, timings={"hardware_s": 0.1})
    data = rec.to_dict()
    assert data["status"] == "completed" and TrialRecord.from_dict(json.loads(json.dumps(data))) == rec
    stamped = with_checksum(data)
    assert checksum_ok(stamped)
    stamped["accuracy"]["score"] = 0.9
    assert not checksum_ok(stamped)
    with pytest.raises(ValueError):
        TrialRecord.from_dict({**data, "status": "done"})


# ------------------------------------------------------------------ the journal


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "binary", "out_of_order", "edited_score"])
def test_resume_refuses_a_missing_or_damaged_journal(done_run: Path, damage: str):
    journal = done_run / "state" / "trials.json"
    text = journal.read_text()
    records = json.loads(text)
    if damage == "missing":
        journal.unlink()
    elif damage == "empty":
        journal.write_text("")
    elif damage == "truncated":
        journal.write_text(text[: len(text) // 2])
    elif damage == "binary":
        journal.write_bytes(b"\x00\xff\xfe" * 50)
    elif damage == "out_of_order":
        journal.write_text(json.dumps([records[1], records[0], *records[2:]]))
    else:
        records[1]["accuracy"]["score"] = 0.99  # an edited score must never reach pareto.csv
        journal.write_text(json.dumps(records))
    before = (done_run / "trials.csv").read_bytes()
    with pytest.raises(UserError, match=r"state/trials\.json") as err:
        _resume(done_run, **{"search.trials": 6})
    assert "\n" not in str(err.value)
    assert (done_run / "trials.csv").read_bytes() == before  # nothing rewritten
    RunStore.open(done_run).release()  # the refused resume released the run's lock


def test_torn_finetune_log_tail_is_dropped_and_never_merged(tmp_path: Path):
    store = RunStore.create(tmp_path / "run", "")
    store.log_finetune({"event": "done", "prune": "a", "finetuned": True})
    with open(store.state / "finetunes.log", "a") as fh:
        fh.write('{"event": "done", "prune": "b", "fine')  # a kill mid-append
    store.log_finetune({"event": "done", "prune": "c", "finetuned": True})
    with open(store.state / "finetunes.log", "a") as fh:
        fh.write('{"event": "done", "prune": "d", "finetuned": true}\n')  # no checksum: not trusted
    assert [r["prune"] for r in store.finetunes()] == ["a", "c"]
    store.release()


def _pretend_killed_before_commit(run: Path, keep_done: bool) -> str:
    """Rewrite the state as a kill before the last trial's journal commit leaves it; returns that prune."""
    journal = run / "state" / "trials.json"
    records = json.loads(journal.read_text())
    last = records[-1]
    pending = TrialRecord(trial=last["trial"], params=last["params"], hw=last["hw"],
                          timings={"propose_s": 0.0})
    records[-1] = with_checksum(pending.to_dict())
    journal.write_text(json.dumps(records))
    log = run / "state" / "finetunes.log"
    lines = log.read_text().splitlines()
    if not keep_done:
        lines = [ln for ln in lines if not (json.loads(ln)["prune"] == last["prune"] and '"done"' in ln)]
        for ln in lines:
            assert json.loads(ln)["session"] == 1
    log.write_text("\n".join(lines) + "\n")
    return last["prune"]


def test_a_finetune_hidden_by_a_kill_is_still_booked_as_this_runs(done_run: Path, monkeypatch: pytest.MonkeyPatch):
    """Killed after the accuracy cache write, before the log/journal: the resume gets a cache hit, still ours."""
    prune = _pretend_killed_before_commit(done_run, keep_done=False)
    real = workers_mod.run_job

    def cache_hit(job):
        out = real(job)
        if out.get("ok") and job["prune"] is not None:
            out["result"] = {**out["result"], "cached": True, "wall_s": 12.5}  # what the accuracy cache returns
        return out

    monkeypatch.setattr(workers_mod, "run_job", cache_hit)
    out = _resume(done_run)
    rec = next(t for t in out.trials if t.prune == prune)
    assert out.info["n_finetunes"] == 4 and not rec.cached and rec.timings["finetune_s"] == 12.5


def test_a_result_logged_before_the_kill_completes_its_trial_without_a_rerun(done_run: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    prune = _pretend_killed_before_commit(done_run, keep_done=True)

    def no_rerun(job):
        assert job["prune"] is None, f"fine-tuned {job['prune']} again"
        return {"ok": True, "result": {"score": 0.6}}

    monkeypatch.setattr(workers_mod, "run_job", no_rerun)
    out = _resume(done_run)
    assert out.info["n_finetunes"] == 4 and out.info["n_completed"] == 4
    assert next(t for t in out.trials if t.prune == prune).status is Status.COMPLETED


# ------------------------------------------------------------------ settings on resume


@pytest.mark.parametrize(("section", "key", "value"), [("model", "id", "bert-base"), ("carbon", "region", "iceland"),
                                                       ("model", "space", {"main": {"layers": [2, 4]}})])
def test_resume_refuses_a_changed_setting_and_keeps_the_original(done_run: Path, section: str, key: str, value):
    import tomllib

    import tomli_w

    path = done_run / "config.toml"
    original = path.read_text()
    raw = tomllib.loads(original)
    raw.setdefault(section, {})[key] = value
    path.write_text(tomli_w.dumps(raw))
    try:
        cfg = load_config(str(path))
    except UserError:
        pytest.skip(f"{section}.{key} = {value!r} is not a valid config here")
    with pytest.raises(UserError, match=rf"resume: {section}\.{key}"):
        run_search(cfg, done_run, resume=True)
    assert (done_run / "state" / "config.original.toml").read_text() == original


def test_additive_changes_are_accepted_and_recorded_per_session(done_run: Path):
    out = _resume(done_run, **{"search.trials": 6, "search.workers": 1})
    sessions = out.info["sessions"]
    assert [s["session"] for s in sessions] == [1, 2] and out.info["trials"] == 6
    assert sessions[1]["changes"] == {"search.trials": [4, 6]} and sessions[1]["trials_budget"] == 6
    assert "trials = 6" in (done_run / "config.toml").read_text()
    assert "trials = 4" in (done_run / "state" / "config.original.toml").read_text()


# ------------------------------------------------------------------ run creation


def test_creation_leftover_counts_as_empty_and_stale_temps_are_removed(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "evals.log"))
    run = tmp_path / "run"
    (run / "state").mkdir(parents=True)
    (run / ".lock").touch()  # what a kill between lock and config.toml left (old code)
    with pytest.raises(UserError, match="holds no run"):
        RunStore.open(run)
    run_search(_cfg(), run)
    assert (run / "config.toml").is_file() and (run / "state" / "config.original.toml").is_file()
    for p in [run / "trials.csv", run / "run.json", run / "state" / "trials.json"]:
        assert p.stat().st_mode & 0o777 == 0o644, p
    stale = [run / ".trials.csv.abc.tmp", run / "state" / ".trials.json.xyz.tmp"]
    for p in stale:
        p.write_text("half")
    _resume(run, **{"search.trials": 5})
    assert not any(p.exists() for p in stale)


@pytest.mark.parametrize("raw", [
    {"model": {"space": {"main": {"layers": [6, 6], "heads": [12, 12], "ffn_blocks": [16, 16],
                                  "hidden_blocks": [16, 16]}}}},
    {"search": {"reference": {"total_carbon_kg": float("inf")}}},
    {"search": {"ray_address": "127.0.0.1:1"}},
])
def test_config_errors_fire_before_the_run_folder_exists(tmp_path: Path, raw: dict):
    merged = {**RAW, **{k: {**RAW.get(k, {}), **v} for k, v in raw.items()}}
    try:
        cfg = config_from_dict(merged)
    except UserError:
        return  # refused even earlier, by the config: nothing written either
    with pytest.raises(UserError) as err:
        run_search(cfg, tmp_path / "run")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ waits


def test_unreachable_ray_address_fails_in_seconds_with_one_line():
    t0 = time.monotonic()
    with pytest.raises(UserError, match=r"cannot reach Ray at '127\.0\.0\.1:1'"):
        check_reachable("127.0.0.1:1", timeout_s=2.0)
    assert time.monotonic() - t0 < 10  # a bound on a hang, not a speed target


def test_executor_wait_returns_when_its_timeout_passes():
    pending: Future = Future()
    assert Executor(1).wait_any([pending], timeout_s=0.05) == []
    pending.set_result({"ok": True})
    assert Executor(1).wait_any([pending], timeout_s=0.05) == [(pending, {"ok": True})]


def test_codecarbon_multi_instance_notice_is_dropped_unless_verbose():
    import logging

    from catransformers.search.footprint import Footprint

    logger = logging.getLogger("codecarbon")
    seen: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Grab()
    logger.addHandler(handler)
    try:
        fp = Footprint("USA").start()
        logger.warning("Multiple instances of codecarbon are allowed to run at the same time.")
        result = fp.stop(None)
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()
    assert not any("Multiple instances" in m for m in seen)
    assert result is None or "emissions_kg" in result or "error" in result


@pytest.mark.slow
def test_a_stale_botorch_extension_lock_does_not_stall_the_search(tmp_path: Path):
    """A killed compile of botorch's fused kernel leaves `lock`; the search must pass its first Bayesian step."""
    ext = tmp_path / "torch_extensions"
    (ext / "logei_fused_ext").mkdir(parents=True)
    (ext / "logei_fused_ext" / "lock").touch()
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[model]\nid = "minilm-l6"\n[search]\ntrials = 6\nsobol_trials = 2\nbatch_size = 2\n'
                   'acqf_restarts = 2\nacqf_raw_samples = 32\n[accuracy]\ntask = "surrogate"\n')
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(ext), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-c", "from catransformers.cli import main; main()", "search", "--config", str(cfg),
           "--out", str(tmp_path / "run")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["n_completed"] + info["n_infeasible"] + info["n_failed"] == 6
    assert "Multiple instances of codecarbon" not in done.stdout + done.stderr


# ------------------------------------------------------------------ what the CLI prints


def test_cli_summary_fits_80_columns_and_names_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from rich.console import Console

    from catransformers.cli import search as cli_search

    monkeypatch.setenv(LOG_ENV, str(tmp_path / "evals.log"))
    monkeypatch.setattr(cli_search, "console", Console(width=80, record=True))
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[model]\nid = "minilm-l6"\n[search]\ntrials = 4\nsobol_trials = 4\nbatch_size = 2\n'
                   '[accuracy]\ntask = "surrogate"\nsurrogate_noise = 0.05\n')
    cli_search.search(config=str(cfg), trials=None, out=tmp_path / "run", seed=None, mode=None, strategy=None,
                      workers=None, ray_address=None, max_finetunes=None, resume=None, print_config=False,
                      profile=None, fleet=None, memory=None, verbose=None)
    text = cli_search.console.export_text()
    table = text[text.index("Pareto front"):text.index("unpruned baseline:")]
    assert max(len(line) for line in table.splitlines()) <= 80 and "…" not in table
    base = json.loads((tmp_path / "run" / "run.json").read_text())["baseline"]
    assert f"{base['score']:.4g}" in table and "base" in table
    assert "within noise" in text  # noise sd 0.05: the surrogate's intervals overlap
    files = text[text.index("files:"):].replace("\n", "")
    for name in ("trials.csv", "pareto.csv", "accuracy_vs_carbon.png", "report.html"):
        assert name in files


def test_progress_eta_is_the_median_trial_time_times_the_trials_left():
    from catransformers.cli.search import _Reporter

    rep = _Reporter(total=10, done=4)
    assert rep.eta() == ""
    rep.durations = [1.0, 30.0, 2.0]
    assert rep.eta() == "ETA ~12 s"  # median 2 s x 6 trials left


# ------------------------------------------------------------------ botorch's fused-kernel lock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_extension_lock_verdicts(tmp_path: Path):
    from catransformers.search.kernel import OWNER_FILE, lock_verdict

    assert lock_verdict(tmp_path) == "free"
    (tmp_path / "lock").touch()
    assert lock_verdict(tmp_path) == "unexplained" and (tmp_path / "lock").exists()  # no owner: left alone
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / OWNER_FILE).write_text(str(sleeper.pid))
        assert lock_verdict(tmp_path) == "unexplained" and (tmp_path / "lock").exists()  # a live build
    finally:
        sleeper.kill()
        sleeper.wait()
    (tmp_path / OWNER_FILE).write_text(str(_dead_pid()))
    assert lock_verdict(tmp_path) == "stale"
    assert not (tmp_path / "lock").exists() and not (tmp_path / OWNER_FILE).exists()


@pytest.fixture
def fresh_logei(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from botorch.acquisition.multi_objective import logei

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "ext"))
    monkeypatch.setattr(logei, "_C", None)
    monkeypatch.setattr(logei, "_load_attempted", False)
    from torch.utils.cpp_extension import _get_build_directory

    build = Path(_get_build_directory("logei_fused_ext", verbose=False))
    return logei, build


def test_an_unexplained_extension_lock_means_pure_pytorch_not_a_wait(fresh_logei, monkeypatch):
    from catransformers.search.kernel import prepare_logei_kernel

    logei, build = fresh_logei
    (build / "lock").touch()
    monkeypatch.setattr(logei, "_try_load_fused_kernel", lambda: pytest.fail("would wait on the lock"))
    said: list[str] = []
    assert prepare_logei_kernel(said.append) == "pure: unexplained lock"
    assert logei._C is None and logei._load_attempted  # botorch now takes its pure-PyTorch path
    assert len(said) == 1 and str(build / "lock") in said[0]


def test_a_lock_left_by_a_killed_build_is_removed_and_the_kernel_built(fresh_logei, monkeypatch):
    from catransformers.search.kernel import OWNER_FILE, prepare_logei_kernel

    logei, build = fresh_logei
    (build / "lock").touch()
    (build / OWNER_FILE).write_text(str(_dead_pid()))
    seen = {}

    def fake_build():
        seen["lock_gone"] = not (build / "lock").exists()
        seen["owner"] = (build / OWNER_FILE).read_text()
        logei._C = object()

    monkeypatch.setattr(logei, "_try_load_fused_kernel", fake_build)
    said: list[str] = []
    assert prepare_logei_kernel(said.append) == "fused"
    assert seen == {"lock_gone": True, "owner": str(os.getpid())} and not (build / OWNER_FILE).exists()
    assert any("building BoTorch's fused qLogNEHVI kernel" in s for s in said)  # a first build is announced
