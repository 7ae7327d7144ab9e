"""The search engine: one loop for every mode and strategy.

Per batch: Ax proposes `batch_size` candidates (journalled at once); each is checked exactly against the
deterministic constraints (nested: the whole hardware space is swept for the proposed model and its feasible
hardware Pareto set kept; joint/random: the one proposed accelerator is evaluated); infeasible candidates are
recorded and abandoned in Ax without a fine-tune; the distinct pruned models still needing a score are
fine-tuned on the workers (never twice: results are memoised by canonical pruned spec, and the accuracy stage
caches them on disk too); every finished trial is journalled and the outputs rewritten; when the batch is done
its outcomes go to Ax in trial order, so worker count never changes what Ax sees.

Fine-tune accounting survives a kill at any point: `state/finetunes.log` gets a "start" record before a job is
submitted and a "done" record (with the result) the moment the worker returns, before the journal commit. On
resume a "done" result completes its pending trials without running again, and a job whose start was logged by
an earlier session but whose result now comes back from the accuracy cache is booked as this run's fine-tune.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from catransformers.errors import UserError
from catransformers.models import prune_spec
from catransformers.report.pareto import hypervolume, pareto_front
from catransformers.search.config import ExperimentConfig, config_to_toml
from catransformers.search.footprint import Footprint
from catransformers.search.payback import carbon_payback
from catransformers.search.problem import Problem, design_row
from catransformers.search.records import ACCURACY_FIELDS, Status, TrialRecord
from catransformers.search.resume import check_resume_config
from catransformers.search.store import RunStore
from catransformers.search.table import trials_table
from catransformers.search.workers import Executor, ray_preflight, threads_per_worker

# A wait on the workers longer than this is announced (what is running, for how long); this project's choice.
WAIT_NOTE_S = 5.0


class SearchInterrupted(Exception):
    """Ctrl-C: the state is saved; the message says how to resume."""


@dataclass
class SearchOutcome:
    """What a finished (or interrupted) search leaves: its folder, all designs, the front, the summary."""

    run_dir: Path
    table: pd.DataFrame
    front: pd.DataFrame
    info: dict[str, Any]
    trials: list[TrialRecord] = field(default_factory=list)


def default_run_dir(cfg: ExperimentConfig) -> Path:
    name = cfg.output.name or (f"{Path(cfg.model.id).stem}-{cfg.search.mode}-{cfg.search.strategy}-"
                               f"{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    return Path(cfg.output.dir) / name


def make_optimizer(cfg: ExperimentConfig, problem: Problem) -> Any:
    """The Ax optimizer of this experiment, or None where no Ax loop runs (hardware-only, nested)."""
    if not problem.mode.search_model and cfg.search.strategy == "nested":
        return None
    from catransformers.search.optimizer import AxOptimizer

    s = cfg.search
    return AxOptimizer(problem, s.strategy, s.seed, s.sobol_trials, s.acqf_restarts, s.acqf_raw_samples,
                       fused_logei=s.fused_logei)


class Engine:
    """Runs (or resumes) one experiment into one run folder."""

    def __init__(self, cfg: ExperimentConfig, store: RunStore, reporter: Any = None, *, problem: Problem | None = None,
                 optimizer: Any = None, changes: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.problem = problem or Problem.from_config(cfg)
        self.optimizer = optimizer
        self.reporter = reporter
        self.trials: list[TrialRecord] = store.load_trials()
        self.prior = store.read_run_json()
        self.baseline: dict[str, Any] | None = self.prior.get("baseline")
        self._interrupt_requested = False  # a first Ctrl-C: stop at the next safe point
        self.memo: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}
        for rec in self.trials:
            if rec.accuracy is not None:
                self.memo.setdefault(rec.prune, rec.accuracy)
            elif rec.status is Status.FAILED and rec.prune and rec.finetune_error:
                self.failed[rec.prune] = rec.error or ""
        sessions = self.prior.get("sessions")
        self.sessions: list[dict[str, Any]] = (sessions if isinstance(sessions, list)
                                               else [{"session": i + 1} for i in range(int(sessions or 0))])
        self.session = len(self.sessions) + 1
        self.log = store.finetunes()
        self.logged: dict[str, dict[str, Any]] = {}  # prune -> its "done" record
        for entry in self.log:
            if entry.get("event") == "done" and isinstance(entry.get("result"), dict):
                self.logged.setdefault(entry["prune"], entry)
                self.memo.setdefault(entry["prune"], entry["result"])
        s = cfg.search
        self.session_entry = {"session": self.session, "started": datetime.now().isoformat(timespec="seconds"),
                              "trials_budget": s.trials, "workers": s.workers, "max_finetunes": s.max_finetunes,
                              "changes": changes or {}}
        self.t_start = time.time()

    # -------------------------------------------------------------- public

    @classmethod
    def start(cls, cfg: ExperimentConfig, run_dir: Path | None = None, reporter: Any = None) -> Engine:
        """A new run: every check that can fail (constraints, reference point, Ax setup) runs before any write."""
        problem = Problem.from_config(cfg)
        problem.preflight()
        if problem.mode.needs_accuracy and cfg.accuracy.task != "surrogate":
            accuracy_preflight(cfg)
        optimizer = make_optimizer(cfg, problem)
        if cfg.search.ray_address and optimizer is not None:
            ray_preflight(cfg.search.ray_address)
        run_dir = Path(run_dir) if run_dir else default_run_dir(cfg)
        store = RunStore.create(run_dir, config_to_toml(cfg))
        return cls(cfg, store, reporter, problem=problem, optimizer=optimizer)

    @classmethod
    def resume(cls, run_dir: Path, cfg: ExperimentConfig, reporter: Any = None) -> Engine:
        """Continue a run: its journal must be intact and `cfg` may differ from the original only additively."""
        store = RunStore.open(Path(run_dir))
        try:
            changes = check_resume_config(store, cfg)
            problem = Problem.from_config(cfg)
            engine = cls(cfg, store, reporter, problem=problem, optimizer=make_optimizer(cfg, problem),
                         changes=changes)
            store.write_config(config_to_toml(cfg))  # the accepted additive changes (the original stays in state/)
        except BaseException:
            store.release()
            raise
        return engine

    def run(self) -> SearchOutcome:
        footprint = Footprint(self.cfg.search.footprint_country,
                              self.cfg.search.verbose).start() \
            if self.cfg.search.footprint else None
        executor: Executor | None = None
        try:
            with self._interrupt_at_safe_points():
                if self.optimizer is not None:
                    executor = Executor(self.cfg.search.workers, self.cfg.search.ray_address)
                    self._score_baseline(executor)
                    self._loop(executor)
                else:
                    self._hardware_sweep()
        except KeyboardInterrupt:
            self._finish(footprint, interrupted=True)
            self.store.release()
            raise SearchInterrupted(
                f"interrupted; {self._n_done()} trials saved in {self.store.root}. Resume with: "
                f"catransformers search --resume {self.store.root}") from None
        except BaseException:
            self.store.release()
            raise
        finally:
            if executor is not None:
                executor.shutdown()
        outcome = self._finish(footprint, interrupted=False)
        self.store.release()
        return outcome

    # -------------------------------------------------------------- loop

    def _loop(self, executor: Executor) -> None:
        s = self.cfg.search
        ax = self.optimizer
        ax.notify = self._note_wait
        ax.replay(self.trials)
        pending = [r for r in self.trials if r.status is Status.PENDING]
        if pending:
            self._evaluate_batch(pending, executor)
            for rec in pending:
                ax.report(rec)
        while not self._budget_spent():
            self._check_interrupt()
            t0 = time.perf_counter()
            size = min(s.batch_size, s.trials - len(self.trials))
            if s.max_finetunes is not None:  # do not overshoot the fine-tune budget (depends on results only)
                size = min(size, s.max_finetunes - self.n_finetunes())
            proposals = ax.propose(size)
            gen_s = time.perf_counter() - t0
            if not proposals:
                break
            batch = [self._new_record(idx, params, gen_s / len(proposals)) for idx, params in proposals]
            self.trials.extend(batch)
            self.store.save_trials(self.trials)  # journalled before any evaluation
            self._evaluate_batch(batch, executor)
            for rec in batch:
                ax.report(rec)

    def _budget_spent(self) -> bool:
        s = self.cfg.search
        if len(self.trials) >= s.trials:
            return True
        return s.max_finetunes is not None and self.n_finetunes() >= s.max_finetunes

    def _new_record(self, idx: int, params: dict[str, Any], gen_s: float) -> TrialRecord:
        hw = {k[4:]: v for k, v in params.items() if k.startswith("hw__")}
        return TrialRecord(trial=idx, params=params, hw=hw or None, timings={"propose_s": round(gen_s, 3)})

    def _evaluate_batch(self, batch: list[TrialRecord], executor: Executor) -> None:
        for rec in batch:
            self._check_hardware(rec)
        self.store.save_trials(self.trials)
        self._write_outputs()
        waiting = [r for r in batch if r.status is Status.PENDING]
        for rec in list(waiting):  # memo hits: a hardware-only change never triggers a fine-tune
            if not self.problem.mode.needs_accuracy:
                self._complete(rec, None)
            elif rec.prune in self.memo:
                logged = self.logged.get(rec.prune)
                first = logged is not None and logged.get("finetuned") and logged.get("trial") == rec.trial
                self._complete(rec, self.memo[rec.prune], cached=not first)
            elif rec.prune in self.failed:
                self._fail(rec, f"same pruned model failed before: {self.failed[rec.prune]}")
            else:
                continue
            waiting.remove(rec)
        keys = list(dict.fromkeys(r.prune for r in waiting))
        handles: dict[Any, str] = {}
        since = time.monotonic()
        while keys or handles:
            while keys and len(handles) < executor.capacity:
                key = keys.pop(0)
                group = [r for r in waiting if r.prune == key]
                self.store.log_finetune({"event": "start", "prune": key, "trial": group[0].trial,
                                         "session": self.session})
                handles[executor.submit(self._job(key))] = key
            finished = executor.wait_any(list(handles), timeout_s=WAIT_NOTE_S)
            if not finished:
                self._note_wait(f"waiting for {len(handles)} fine-tune(s) for {time.monotonic() - since:.0f} s: "
                                + "; ".join(list(handles.values())[:3]))
                continue
            for handle, result in finished:
                key = handles.pop(handle)
                self._finished(key, [r for r in waiting if r.prune == key], result)

    def _finished(self, key: str, group: list[TrialRecord], result: dict[str, Any]) -> None:
        """Book one returned job: the fine-tune log first (source of truth), then the journal."""
        if not result.get("ok"):
            if result.get("user_error"):
                raise UserError(result["error"])
            self.failed[key] = result["error"]
            for rec in group:
                self._fail(rec, result["error"], finetune=True)
            return
        acc = {k: result["result"].get(k) for k in ACCURACY_FIELDS}
        ran_here = not acc.get("cached") or self._started_earlier(key)
        entry = {"event": "done", "prune": key, "trial": group[0].trial, "session": self.session,
                 "finetuned": bool(ran_here), "wall_s": round(float(acc.get("wall_s") or 0.0), 3), "result": acc}
        self.store.log_finetune(entry)
        self.log.append(entry)
        self.logged[key] = entry
        self.memo[key] = acc
        for i, rec in enumerate(group):
            self._complete(rec, acc, cached=not ran_here or i > 0)

    def _started_earlier(self, key: str) -> bool:
        """A start of `key` logged by an earlier session with no result: that session's kill hid its fine-tune."""
        return any(e.get("event") == "start" and e.get("prune") == key and e.get("session") != self.session
                   for e in self.log)

    def _job(self, key: str | None) -> dict[str, Any]:
        acc = self.cfg.accuracy
        recipe = acc.recipe().model_dump()
        if "threads" not in self.cfg.accuracy.model_fields_set and self.cfg.search.workers > 1:
            # parallel workers share the cores; one worker keeps 0 = chosen per machine and load (accuracy/runtime.py)
            recipe["threads"] = threads_per_worker(self.cfg.search.workers)
        return {"model_id": self.cfg.model.id, "prune": key, "task": acc.task, "recipe": recipe,
                "cache_dir": acc.cache_dir, "seed": acc.seed, "surrogate_noise": acc.surrogate_noise,
                "surrogate_delay_s": acc.surrogate_delay_s, "surrogate_fail": acc.surrogate_fail}

    def _note_wait(self, text: str) -> None:
        """Say what a wait longer than a few seconds waits for (the CLI's progress line, else stderr)."""
        if self.reporter is not None and hasattr(self.reporter, "waiting"):
            self.reporter.waiting(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def _score_baseline(self, executor: Executor) -> None:
        """Score the unpruned model once per run (kept in run.json; the CLI, report and plots show it)."""
        if not self.problem.mode.needs_accuracy or (self.baseline and "score" in self.baseline):
            return
        handle = executor.submit(self._job(None))
        since = time.monotonic()
        while not (done := executor.wait_any([handle], timeout_s=WAIT_NOTE_S)):
            self._note_wait(f"waiting for the unpruned baseline score for {time.monotonic() - since:.0f} s")
        result = done[0][1]
        if result.get("ok"):
            res = result["result"]
            self.baseline = {k: res.get(k) for k in ("score", "metric", "higher_is_better", "score_ci_low",
                                                     "score_ci_high", "n_items", "wall_s", "cached")}
        elif result.get("user_error"):
            raise UserError(result["error"])
        else:  # the search still runs; the baseline is shown as missing with its reason
            self.baseline = {"error": result["error"]}
        self.baseline["design"] = self.problem.baseline_design()
        self._write_outputs()
        if self.reporter is not None and hasattr(self.reporter, "baseline_done"):
            self.reporter.baseline_done(self.baseline)

    # -------------------------------------------------------------- one trial

    def _check_hardware(self, rec: TrialRecord) -> None:
        """Exact constraint check before any fine-tune; keeps the feasible designs of this trial."""
        t0 = time.perf_counter()
        try:
            prune = self.problem.prune_of(rec.params)
            rec.prune = self.problem.prune_text(prune)
            pruned = prune_spec(self.problem.spec, prune)
            designs = self.problem.proposed_design(pruned, rec.hw) if rec.hw is not None else self.problem.sweep(pruned)
            front = self.problem.hw_front(designs)
        except UserError:
            raise
        except Exception as err:
            self._fail(rec, f"cost model: {type(err).__name__}: {err}"[:500])
            return
        rec.timings["hardware_s"] = round(time.perf_counter() - t0, 4)
        if front.empty:
            rec.status = Status.INFEASIBLE
            rec.error = self.problem.why_infeasible(designs)
            rec.designs = [design_row(designs.iloc[0])] if rec.hw is not None else []
            self._announce(rec)
            return
        rec.designs = [design_row(row) for _, row in front.iterrows()]

    def _complete(self, rec: TrialRecord, acc: dict[str, Any] | None, cached: bool = False) -> None:
        rec.status = Status.COMPLETED
        rec.cached = cached
        if acc is not None:
            rec.accuracy = {k: acc.get(k) for k in ACCURACY_FIELDS}
            rec.timings["finetune_s"] = 0.0 if cached else float(acc.get("wall_s") or 0.0)
        best = rec.designs[0]
        rec.objectives = {o.name: (rec.accuracy["score"] if o.name == "accuracy" else best[o.name])
                          for o in self.problem.mode.objectives}
        self._commit(rec)

    def _fail(self, rec: TrialRecord, error: str, finetune: bool = False) -> None:
        rec.status = Status.FAILED
        rec.error = error
        rec.finetune_error = finetune
        self._commit(rec)

    def _commit(self, rec: TrialRecord) -> None:
        self.store.save_trials(self.trials)
        self._write_outputs()
        self._announce(rec)
        self._check_interrupt()

    @contextmanager
    def _interrupt_at_safe_points(self) -> Iterator[None]:
        """Ctrl-C stops the search right after the next journalled trial (or the next batch proposal), never inside
        a library that might swallow it (BoTorch's kernel loader, Ax's generation); a second Ctrl-C stops at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigint(signum: int, frame: Any) -> None:
            if self._interrupt_requested:
                raise KeyboardInterrupt
            self._interrupt_requested = True
            self._note_wait("interrupt: stopping after the trial in progress is saved (Ctrl-C again to stop now)")

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _check_interrupt(self) -> None:
        if self._interrupt_requested:
            raise KeyboardInterrupt

    def _announce(self, rec: TrialRecord) -> None:
        if self.reporter is not None:
            self.reporter.trial_done(rec, self)

    # -------------------------------------------------------------- hardware-only, nested: exhaustive

    def _hardware_sweep(self) -> None:
        """Hardware-only mode, nested strategy: the sweep IS the exact answer, as one trial."""
        if self.trials and self.trials[0].done:
            return
        rec = self._new_record(0, {}, 0.0)
        self.trials = [rec]
        self.store.save_trials(self.trials)
        self._check_hardware(rec)
        if rec.status is Status.PENDING:
            self._complete(rec, None)
        else:
            self._commit(rec)

    # -------------------------------------------------------------- outputs

    def n_finetunes(self) -> int:
        """Distinct pruned models this run fine-tuned, from the fine-tune log (the source of truth)."""
        return len({e["prune"] for e in self.log if e.get("event") == "done" and e.get("finetuned")})

    def finetune_wall_s(self) -> float:
        done = {e["prune"]: float(e.get("wall_s") or 0.0) for e in self.log
                if e.get("event") == "done" and e.get("finetuned")}
        return sum(done.values())

    def _n_done(self) -> int:
        return sum(1 for r in self.trials if r.done)

    def table(self) -> pd.DataFrame:
        return trials_table(self.trials, self.problem)

    def front(self, table: pd.DataFrame | None = None) -> pd.DataFrame:
        table = self.table() if table is None else table
        return pareto_front(table, self.problem.mode.objectives, keep_duplicates=False)

    def hypervolume(self, table: pd.DataFrame) -> float:
        objs = self.problem.mode.objectives
        front = self.front(table)
        if front.empty:
            return 0.0
        return hypervolume(front[[o.name for o in objs]].to_numpy(dtype=float),
                           [self.problem.reference[o.name] for o in objs], [o.maximize for o in objs])

    def _write_outputs(self, extra: dict[str, Any] | None = None) -> pd.DataFrame:
        """Rewrite trials.csv/parquet, then run.json with their row count and checksums (the report checks them)."""
        table = self.table()
        digest = self.store.write_table(table)
        self.store.write_run_json(self._info(table) | {"table": digest} | (extra or {}))
        return table

    def _info(self, table: pd.DataFrame) -> dict[str, Any]:
        c = self.cfg
        objs = self.problem.mode.objectives
        counts = {s.value: sum(1 for r in self.trials if r.status is s)
                  for s in (Status.COMPLETED, Status.FAILED, Status.INFEASIBLE)}
        wall = float(self.prior.get("wall_s", 0.0)) + (time.time() - self.t_start)
        return {
            "name": self.store.root.name, "model": c.model.id, "mode": c.search.mode, "strategy": c.search.strategy,
            "seed": c.search.seed, "workers": c.search.workers, "ray_address": c.search.ray_address,
            "objectives": [{"name": o.name, "maximize": o.maximize, "reference": self.problem.reference[o.name]}
                           for o in objs],
            "reference_point": {o.name: self.problem.reference[o.name] for o in objs},
            "hardware_objectives": [o.name for o in self.problem.mode.hw_objectives],
            "constraints": c.constraints.model_dump(), "latency_capped": self.problem.mode.latency_capped,
            "accuracy_task": c.accuracy.task if self.problem.mode.needs_accuracy else None,
            "baseline": self.baseline,
            "trials": len(self.trials), "trials_budget": c.search.trials, **{f"n_{k}": v for k, v in counts.items()},
            "n_designs": len(table), "n_finetunes": self.n_finetunes(),
            "finetune_wall_s": round(self.finetune_wall_s(), 3),
            "hypervolume": self.hypervolume(table), "wall_s": round(wall, 2),
            "sessions": [*self.sessions, self.session_entry], "footprint": self.prior.get("footprint"),
            "settings": self.settings_record,
            "updated": datetime.now().isoformat(timespec="seconds"),
        }

    @cached_property
    def settings_record(self) -> dict[str, Any]:
        """What the report shows under Settings: the usage profile first (it drives operational carbon); constant
        for the run, so built once rather than at every journal commit."""
        carbon, c = self.problem.settings.carbon, self.cfg
        return {
            "usage": {"lifetime_years": carbon.lifetime_years, "inferences_per_s": carbon.inferences_per_s,
                      "hours_per_day": carbon.hours_per_day, "total_inferences": carbon.inferences(),
                      "use_ci_g_per_kwh": carbon.use_ci_g_per_kwh(), "use_ci_source": carbon.use_ci_source(),
                      "fleet_size": carbon.fleet_size},
            "profile": self.problem.settings.profile, "timing": self.problem.settings.timing,
            "memory": list(c.hardware.memory) or f"{c.hardware.dram_gb} GB {c.hardware.dram_type}",
            "carbon": {"fab_location": carbon.fab_location, "gpa": carbon.gpa, "fab_yield": carbon.fab_yield,
                       "node_nm": list(c.hardware.node_nm)},
        }

    def _finish(self, footprint: Footprint | None, interrupted: bool) -> SearchOutcome:
        extra: dict[str, Any] = {"interrupted": interrupted}
        if footprint is not None:
            extra["footprint"] = footprint.stop(self.prior.get("footprint"))
        front = self.front(self.table())
        extra["payback"] = carbon_payback(front, self.baseline, extra.get("footprint") or self.prior.get("footprint"),
                                          self.problem.settings.carbon.fleet_size)
        table = self._write_outputs(extra)
        info = self.store.read_run_json()
        return SearchOutcome(self.store.root, table, self.front(table), info, self.trials)


def accuracy_preflight(cfg: ExperimentConfig) -> None:
    """Load the base model and bind its task once, so missing weights or data fail before anything is written.

    The accuracy stage memoises the loaded model per process, so a serial search reuses it for its fine-tunes.
    """
    from catransformers.accuracy import base_model
    from catransformers.accuracy.evaluate import device_of
    from catransformers.accuracy.tasks import make_task

    loaded, _ = base_model(cfg.model.id, cfg.accuracy.cache_dir)
    make_task(loaded, cfg.accuracy.recipe(), device_of())
