"""The search engine: one loop for every mode and strategy.

Per batch: Ax proposes `batch_size` candidates (journalled at once); each is checked exactly against the
deterministic constraints (nested: the whole hardware space is swept for the proposed model and its feasible
hardware Pareto set kept; joint/random: the one proposed accelerator is evaluated); infeasible candidates are
recorded and abandoned in Ax without a fine-tune; the distinct pruned models still needing a score are
fine-tuned on the workers (never twice: results are memoised by canonical pruned spec, and the accuracy stage
caches them on disk too); every finished trial is journalled and the outputs rewritten; when the batch is done
its outcomes go to Ax in trial order, so worker count never changes what Ax sees.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from catransformers.errors import UserError
from catransformers.hardware.config import TEMPLATE_KEYS
from catransformers.models import PRUNE_KEYS, parse_prune, prune_spec
from catransformers.report.pareto import hypervolume, pareto_front
from catransformers.search.config import ExperimentConfig, config_to_toml
from catransformers.search.problem import COST_COLUMNS, Problem
from catransformers.search.store import RunStore
from catransformers.search.workers import Executor


class SearchInterrupted(Exception):
    """Ctrl-C: the state is saved; the message says how to resume."""


@dataclass
class SearchOutcome:
    """What a finished (or interrupted) search leaves: its folder, all designs, the front, the summary."""

    run_dir: Path
    table: pd.DataFrame
    front: pd.DataFrame
    info: dict[str, Any]
    trials: list[dict[str, Any]] = field(default_factory=list)


def default_run_dir(cfg: ExperimentConfig) -> Path:
    name = cfg.output.name or (f"{Path(cfg.model.id).stem}-{cfg.search.mode}-{cfg.search.strategy}-"
                               f"{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    return Path(cfg.output.dir) / name


class Engine:
    """Runs (or resumes) one experiment into one run folder."""

    def __init__(self, cfg: ExperimentConfig, store: RunStore, reporter: Any = None) -> None:
        self.cfg = cfg
        self.store = store
        self.problem = Problem.from_config(cfg)
        self.reporter = reporter
        self.trials: list[dict[str, Any]] = store.load_trials()
        self.memo: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}
        for rec in self.trials:
            if rec.get("accuracy") is not None:
                self.memo.setdefault(rec["prune"], rec["accuracy"])
            elif rec["status"] == "failed" and rec.get("prune") and rec.get("finetune_error"):
                self.failed[rec["prune"]] = rec["error"]
        self.prior = store.read_run_json()
        self.t_start = time.time()

    # -------------------------------------------------------------- public

    @classmethod
    def start(cls, cfg: ExperimentConfig, run_dir: Path | None = None, reporter: Any = None) -> Engine:
        """A new run: checks that can fail run before anything is written."""
        problem = Problem.from_config(cfg)
        problem.preflight()
        if problem.mode.needs_accuracy and cfg.accuracy.task != "surrogate":
            accuracy_preflight(cfg)
        run_dir = Path(run_dir) if run_dir else default_run_dir(cfg)
        store = RunStore.create(run_dir, config_to_toml(cfg))
        return cls(cfg, store, reporter)

    @classmethod
    def resume(cls, run_dir: Path, cfg: ExperimentConfig, reporter: Any = None) -> Engine:
        store = RunStore.open(Path(run_dir))
        from catransformers.search.store import atomic_write

        atomic_write(store.root / "config.toml", config_to_toml(cfg))  # resume may extend trials / workers
        return cls(cfg, store, reporter)

    def run(self) -> SearchOutcome:
        tracker = self._start_footprint()
        executor: Executor | None = None
        try:
            if self.problem.mode.search_model or self.cfg.search.strategy != "nested":
                executor = Executor(self.cfg.search.workers, self.cfg.search.ray_address)
                self._loop(executor)
            else:
                self._hardware_sweep()
        except KeyboardInterrupt:
            self._finish(tracker, interrupted=True)
            raise SearchInterrupted(
                f"interrupted; {self._n_done()} trials saved in {self.store.root}. Resume with: "
                f"catransformers search --resume {self.store.root}") from None
        finally:
            if executor is not None:
                executor.shutdown()
        outcome = self._finish(tracker, interrupted=False)
        self.store.release()
        return outcome

    # -------------------------------------------------------------- loop

    def _loop(self, executor: Executor) -> None:
        from catransformers.search.optimizer import AxOptimizer

        s = self.cfg.search
        ax = AxOptimizer(self.problem, s.strategy, s.seed, s.sobol_trials, s.acqf_restarts, s.acqf_raw_samples)
        ax.replay(self.trials)
        pending = [r for r in self.trials if r["status"] == "pending"]
        if pending:
            self._evaluate_batch(pending, executor)
            for rec in pending:
                ax.report(rec)
        while not self._budget_spent():
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

    def _new_record(self, idx: int, params: dict[str, Any], gen_s: float) -> dict[str, Any]:
        hw = {k[4:]: v for k, v in params.items() if k.startswith("hw__")}
        return {"trial": idx, "params": params, "hw": hw or None, "prune": None, "status": "pending",
                "designs": [], "accuracy": None, "objectives": {}, "error": None, "cached": False,
                "timings": {"propose_s": round(gen_s, 3)}}

    def _evaluate_batch(self, batch: list[dict[str, Any]], executor: Executor) -> None:
        for rec in batch:
            self._check_hardware(rec)
        self.store.save_trials(self.trials)
        self._write_outputs()
        waiting = [r for r in batch if r["status"] == "pending"]
        for rec in list(waiting):  # memo hits: a hardware-only change never triggers a fine-tune
            if not self.problem.mode.needs_accuracy:
                self._complete(rec, None)
            elif rec["prune"] in self.memo:
                self._complete(rec, self.memo[rec["prune"]], cached=True)
            elif rec["prune"] in self.failed:
                self._fail(rec, f"same pruned model failed before: {self.failed[rec['prune']]}")
            else:
                continue
            waiting.remove(rec)
        keys = list(dict.fromkeys(r["prune"] for r in waiting))
        handles: dict[Any, str] = {}
        while keys or handles:
            while keys and len(handles) < executor.capacity:
                key = keys.pop(0)
                handles[executor.submit(self._job(key))] = key
            for handle, result in executor.wait_any(list(handles)):
                key = handles.pop(handle)
                group = [r for r in waiting if r["prune"] == key]
                if result.get("ok"):
                    acc = result["result"]
                    self.memo[key] = acc
                    if not acc.get("cached"):
                        self.store.log_finetune(key, group[0]["trial"], float(acc.get("wall_s", 0.0)))
                    for i, rec in enumerate(group):
                        self._complete(rec, acc, cached=bool(acc.get("cached")) or i > 0)
                else:
                    if result.get("user_error"):
                        raise UserError(result["error"])
                    self.failed[key] = result["error"]
                    for rec in group:
                        self._fail(rec, result["error"], finetune=True)

    def _job(self, key: str) -> dict[str, Any]:
        acc = self.cfg.accuracy
        recipe = acc.recipe().model_dump()
        if "threads" not in self.cfg.accuracy.model_fields_set:
            recipe["threads"] = max(1, (os.cpu_count() or 1) // self.cfg.search.workers)
        return {"model_id": self.cfg.model.id, "prune": key, "task": acc.task, "recipe": recipe,
                "cache_dir": acc.cache_dir, "seed": acc.seed, "surrogate_noise": acc.surrogate_noise,
                "surrogate_delay_s": acc.surrogate_delay_s, "surrogate_fail": acc.surrogate_fail}

    # -------------------------------------------------------------- one trial

    def _check_hardware(self, rec: dict[str, Any]) -> None:
        """Exact constraint check before any fine-tune; keeps the feasible designs of this trial."""
        t0 = time.perf_counter()
        try:
            prune = self.problem.prune_of(rec["params"])
            rec["prune"] = self.problem.prune_text(prune)
            pruned = prune_spec(self.problem.spec, prune)
            if rec["hw"] is not None:
                designs = self.problem.fixed_design(pruned, rec["hw"])
            else:
                designs = self.problem.sweep(pruned)
            front = self.problem.hw_front(designs)
        except UserError:
            raise
        except Exception as err:
            self._fail(rec, f"cost model: {type(err).__name__}: {err}"[:500])
            return
        rec["timings"]["hardware_s"] = round(time.perf_counter() - t0, 4)
        if front.empty:
            rec["status"] = "infeasible"
            rec["error"] = self.problem.why_infeasible(designs)
            rec["designs"] = [_design_row(designs.iloc[0])] if rec["hw"] is not None else []
            self._announce(rec)
            return
        rec["designs"] = [_design_row(row) for _, row in front.iterrows()]

    def _complete(self, rec: dict[str, Any], acc: dict[str, Any] | None, cached: bool = False) -> None:
        rec["status"] = "completed"
        rec["cached"] = cached
        if acc is not None:
            rec["accuracy"] = {k: acc.get(k) for k in ("score", "metric", "higher_is_better", "params", "flops",
                                                       "steps", "wall_s", "cached", "score_before_heal")}
            rec["timings"]["finetune_s"] = 0.0 if cached else float(acc.get("wall_s") or 0.0)
        best = rec["designs"][0]
        rec["objectives"] = {o.name: (rec["accuracy"]["score"] if o.name == "accuracy" else best[o.name])
                             for o in self.problem.mode.objectives}
        self._commit(rec)

    def _fail(self, rec: dict[str, Any], error: str, finetune: bool = False) -> None:
        rec["status"] = "failed"
        rec["error"] = error
        rec["finetune_error"] = finetune
        self._commit(rec)

    def _commit(self, rec: dict[str, Any]) -> None:
        self.store.save_trials(self.trials)
        self._write_outputs()
        self._announce(rec)

    def _announce(self, rec: dict[str, Any]) -> None:
        if self.reporter is not None:
            self.reporter.trial_done(rec, self)

    # -------------------------------------------------------------- hardware-only, nested: exhaustive

    def _hardware_sweep(self) -> None:
        """Hardware-only mode, nested strategy: the sweep IS the exact answer, as one trial."""
        if self.trials and self.trials[0]["status"] != "pending":
            return
        rec = self._new_record(0, {}, 0.0)
        self.trials = [rec]
        self.store.save_trials(self.trials)
        self._check_hardware(rec)
        if rec["status"] == "pending":
            self._complete(rec, None)
        else:
            self._commit(rec)

    # -------------------------------------------------------------- outputs

    def n_finetunes(self) -> int:
        return sum(1 for r in self.trials if r["status"] == "completed" and r.get("accuracy") is not None
                   and not r.get("cached"))

    def _n_done(self) -> int:
        return sum(1 for r in self.trials if r["status"] != "pending")

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
        table = self.table()
        self.store.write_table(table)
        self.store.write_run_json(self._info(table) | (extra or {}))
        return table

    def _info(self, table: pd.DataFrame) -> dict[str, Any]:
        c = self.cfg
        objs = self.problem.mode.objectives
        counts = {s: sum(1 for r in self.trials if r["status"] == s) for s in ("completed", "failed", "infeasible")}
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
            "trials": len(self.trials), "trials_budget": c.search.trials, **{f"n_{k}": v for k, v in counts.items()},
            "n_designs": len(table), "n_finetunes": self.n_finetunes(),
            "hypervolume": self.hypervolume(table), "wall_s": round(wall, 2),
            "sessions": int(self.prior.get("sessions", 0)) + 1, "footprint": self.prior.get("footprint"),
            "codecarbon": self.prior.get("footprint"),  # the report stage's name for it
            "updated": datetime.now().isoformat(timespec="seconds"),
        }

    def _start_footprint(self) -> Any:
        if not self.cfg.search.footprint:
            return None
        try:
            from codecarbon import OfflineEmissionsTracker

            tracker = OfflineEmissionsTracker(country_iso_code=self.cfg.search.footprint_country, save_to_file=False,
                                              log_level="error", measure_power_secs=15, tracking_mode="process")
            tracker.start()
            return tracker
        except Exception as err:  # optional measurement: never fails the search
            self.prior["footprint"] = {"error": f"codecarbon unavailable: {type(err).__name__}: {err}"[:200]}
            return None

    def _finish(self, tracker: Any, interrupted: bool) -> SearchOutcome:
        extra: dict[str, Any] = {"interrupted": interrupted}
        if tracker is not None:
            try:
                kg = float(tracker.stop() or 0.0)
                data = tracker.final_emissions_data
                prev = self.prior.get("footprint") or {}
                extra["footprint"] = {
                    "emissions_kg": kg + float(prev.get("emissions_kg", 0.0)),
                    "energy_kwh": float(getattr(data, "energy_consumed", 0.0)) + float(prev.get("energy_kwh", 0.0)),
                    "country": self.cfg.search.footprint_country, "tool": "codecarbon (offline)",
                }
            except Exception as err:
                extra["footprint"] = {"error": f"codecarbon: {type(err).__name__}: {err}"[:200]}
            extra["codecarbon"] = extra["footprint"]
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


# ------------------------------------------------------------------ trials table


def _design_row(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (*TEMPLATE_KEYS, *COST_COLUMNS):
        if key in row.index:
            v = row[key]
            out[key] = v.item() if hasattr(v, "item") else v
    for key in row.index:
        if key.startswith("ok_"):
            out[key] = bool(row[key])
    return out


TABLE_COLUMNS = ("trial", "design", "status", "accuracy", "metric", "total_carbon_kg", "embodied_die_kg",
                 "embodied_dram_kg", "embodied_kg", "operational_kg", "latency_s", "energy_per_inference_j",
                 "area_mm2", "tops", "bound", "feasible", *TEMPLATE_KEYS)


def trials_table(trials: list[dict[str, Any]], problem: Problem) -> pd.DataFrame:
    """One row per evaluated (model, hardware) design: the report stage's input."""
    knob_cols = [f"{enc}.{knob}" for enc in problem.space for knob in PRUNE_KEYS]
    rows = []
    for rec in trials:
        if rec["status"] == "pending":
            continue
        acc = rec.get("accuracy") or {}
        prune_cols: dict[str, Any] = {}
        if rec.get("prune") is not None:
            params = parse_prune(problem.spec, rec["prune"])
            prune_cols = {f"{enc}.{knob}": getattr(p, knob) for enc, p in params.items() for knob in PRUNE_KEYS}
        designs = rec["designs"] or [{}]
        for i, design in enumerate(designs):
            row: dict[str, Any] = {"trial": rec["trial"], "design": i, "status": rec["status"],
                                   "accuracy": acc.get("score", math.nan), "metric": acc.get("metric")}
            row.update({k: design.get(k, math.nan) for k in TABLE_COLUMNS[5:] if k not in ("bound", "feasible")})
            row["bound"] = design.get("bound")
            row["feasible"] = bool(design.get("feasible", False)) and rec["status"] == "completed"
            row.update({k: prune_cols.get(k) for k in knob_cols})
            row.update({
                "prune": rec.get("prune"), "params": acc.get("params"),
                "score_before_heal": acc.get("score_before_heal"),
                "steps": acc.get("steps"), "wall_s": acc.get("wall_s") if not rec.get("cached") else 0.0,
                "cached": bool(rec.get("cached")), "error": rec.get("error"),
                "strategy_hw": "fixed" if rec.get("hw") is not None else "sweep",
            })
            rows.append(row)
    columns = [*TABLE_COLUMNS, *knob_cols, "prune", "params", "score_before_heal", "steps", "wall_s", "cached",
               "error", "strategy_hw"]
    df = pd.DataFrame(rows, columns=columns)
    for col in ("accuracy", "total_carbon_kg", "latency_s", "energy_per_inference_j", "area_mm2", "tops"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["params"] = pd.to_numeric(df["params"], errors="coerce")
    return df


def best_summary(front: pd.DataFrame, problem: Problem) -> str:
    """A one-line view of the current front (for the progress display)."""
    if front.empty:
        return "front: empty"
    objs = problem.mode.objectives
    first = objs[0]
    best = front.sort_values(first.name, ascending=not first.maximize).iloc[0]
    parts = [f"front {len(front)}"]
    parts.append("best " + " ".join(_fmt_obj(o.name, best[o.name]) for o in objs))
    if len(objs) > 1:
        o2 = objs[1]
        cheap = front.sort_values(o2.name, ascending=not o2.maximize).iloc[0]
        parts.append("cheapest " + " ".join(_fmt_obj(o.name, cheap[o.name]) for o in objs))
    return " | ".join(parts)


def _fmt_obj(name: str, value: float) -> str:
    if not np.isfinite(value):
        return f"{name}=nan"
    if name == "accuracy":
        return f"acc {value:.3f}"
    if name == "total_carbon_kg":
        return f"{value:.4g} kgCO2e"
    if name == "latency_s":
        return f"{value * 1e3:.3g} ms"
    if name == "energy_per_inference_j":
        return f"{value * 1e3:.3g} mJ"
    return f"{name}={value:.4g}"
