"""`catransformers search` (co-design search) and `catransformers report` (rebuild a run's report)."""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from catransformers.errors import UserError
from catransformers.hardware.config import split_names
from catransformers.report.tables import describe_hardware, with_memory

if TYPE_CHECKING:
    from catransformers.search.records import TrialRecord

console = Console(width=None if sys.stdout.isatty() else 160)
MAX_ROWS = 30  # Pareto rows printed; the full front is in pareto.csv


class _Reporter:
    """Progress bar with an ETA (median trial time so far), one line per finished trial, long waits announced."""

    def __init__(self, total: int, done: int) -> None:
        self.progress = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[eta]}"), TextColumn("{task.fields[info]}"),
                                 console=console, transient=False)
        self.task = self.progress.add_task("search", total=total, completed=done, info="", eta="")
        self.total, self.done = total, done
        self.seen: set[int] = set()
        self.durations: list[float] = []
        self.last = time.monotonic()

    def __enter__(self) -> _Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def eta(self) -> str:
        """Remaining trials x the median time per trial finished in this session."""
        left = self.total - self.done
        if not self.durations or left <= 0:
            return ""
        return f"ETA ~{_duration(statistics.median(self.durations) * left)}"

    def trial_done(self, rec: TrialRecord, engine: Any) -> None:
        if rec.trial in self.seen or not rec.done:
            return
        now = time.monotonic()
        self.durations.append(now - self.last)
        self.last = now
        self.seen.add(rec.trial)
        self.done += 1
        self.progress.advance(self.task)
        if rec.status == "completed":
            acc = rec.accuracy or {}
            tag = "cached" if rec.cached else (f"fine-tune {acc.get('wall_s') or 0:.0f}s" if acc else "")
            what = f"[green]done[/] {rec.prune} {tag}"
        else:
            what = f"[yellow]{rec.status.value}[/] {rec.prune or ''}: {rec.error}"
        try:
            summary = best_summary(engine.front(), engine.problem.mode.objectives)
        except Exception:
            summary = ""
        self.progress.console.print(f"trial {rec.trial:>3} {what}  [dim]{summary}[/]")
        self.progress.update(self.task, info=f"{engine.n_finetunes()} fine-tunes", eta=self.eta())

    def baseline_done(self, base: dict[str, Any]) -> None:
        """The first result line: the unpruned model's score (and interval) and its own best hardware."""
        if "score" not in base:
            self.progress.console.print(f"[yellow]baseline not scored: {base.get('error')}[/]")
            return
        ci = (f" [{base['score_ci_low']:.3f}, {base['score_ci_high']:.3f}]"
              if base.get("score_ci_low") is not None else "")
        design = base.get("design") or {}
        hw = (f"; its min-carbon hardware {with_memory(describe_hardware(design, compact=True), design, sep=' ')}: "
              f"{design['total_carbon_kg']:.4g} kgCO2e" if design else "")
        self.last = time.monotonic()  # trial durations (the ETA) start after the one-off baseline
        self.progress.console.print(f"baseline  unpruned {base.get('metric') or 'score'} {base['score']:.3f}{ci}{hw}")

    def waiting(self, text: str) -> None:
        """The engine waits longer than a few seconds, or notes a one-off choice: say on what, or what.

        Recurring "waiting ... for N s" lines replace each other on the progress line; anything else is printed.
        """
        if not text.startswith("waiting "):
            self.progress.console.print(f"[dim]{text}[/]")
        self.progress.update(self.task, info=text[:120])


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def best_summary(front: pd.DataFrame, objectives: Any) -> str:
    """A one-line view of the current front (for the progress display)."""
    if front.empty:
        return "front: empty"
    objs = list(objectives)
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
    if not math.isfinite(value):
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


def _summary(outcome: Any, engine: Any) -> None:
    from catransformers.report import format_pareto_table
    from catransformers.report.noise import noise_note

    info = outcome.info
    more = f", first {MAX_ROWS} shown; all in pareto.csv" if len(outcome.front) > MAX_ROWS else ""
    console.print(format_pareto_table(outcome.front, engine.problem.mode.objectives, max_rows=MAX_ROWS,
                                      baseline=info.get("baseline"),
                                      title=f"Pareto front ({len(outcome.front)} designs{more})"))
    base = info.get("baseline") or {}
    if "score" in base:
        console.print(f"unpruned baseline: {base.get('metric') or 'score'} {base['score']:.4g}")
    elif "error" in base:
        console.print(f"[yellow]unpruned baseline not scored: {base['error']}[/]")
    if note := noise_note(outcome.front):
        console.print(note)
    from catransformers.search.payback import payback_text

    if text := payback_text(info.get("payback")):
        console.print(text)
    fp = info.get("footprint") or {}
    fp_txt = (f", search footprint {fp['emissions_kg'] * 1e3:.3g} gCO2e ({fp['energy_kwh']:.3g} kWh)"
              if "emissions_kg" in fp else "")
    console.print(f"{info['trials']} trials ({info['n_completed']} completed, {info['n_infeasible']} infeasible, "
                  f"{info['n_failed']} failed), {info['n_finetunes']} fine-tunes, "
                  f"hypervolume {info['hypervolume']:.4g}, "
                  f"wall {info['wall_s']:.0f} s{fp_txt}")
    report = _try_report(outcome.run_dir)
    names = ["trials.csv", "trials.parquet", "run.json", "config.toml"]
    if report is not None:
        names += ["pareto.csv", *sorted(p.name for p in outcome.run_dir.glob("*.png")), report.name]
    console.print(f"files: {outcome.run_dir}/ " + ", ".join(names))


def _try_report(run_dir: Path) -> Path | None:
    try:
        from catransformers.report import build_report
    except ImportError:
        return None
    try:
        return build_report(run_dir)
    except UserError:
        raise
    except Exception as err:  # the search's files are the result; a report failure is only reported
        console.print(f"[yellow]report not built: {type(err).__name__}: {err}[/]")
        return None


def search(
    config: str = typer.Option(None, "--config", "-c", help="experiment TOML file or preset name (default: offline)"),
    trials: int = typer.Option(None, "--trials", help="number of Ax trials"),
    out: Path = typer.Option(None, "--out", help="run folder (must not exist)"),
    seed: int = typer.Option(None, "--seed"),
    mode: str = typer.Option(None, "--mode", help="carbon | latency | energy | all | hardware | model"),
    strategy: str = typer.Option(None, "--strategy", help="nested | joint | random"),
    workers: int = typer.Option(None, "--workers", help="trials evaluated at once on this machine"),
    ray_address: str = typer.Option(None, "--ray-address", help="run trials on an existing Ray cluster"),
    max_finetunes: int = typer.Option(None, "--max-finetunes", help="stop after this many fine-tunes"),
    resume: Path = typer.Option(None, "--resume", help="continue the run in this folder"),
    print_config: bool = typer.Option(False, "--print-config", help="print the resolved config as TOML and exit"),
    profile: str = typer.Option(None, "--profile", help="assumption bundle: default or paper (the config still "
                                "overrides single figures)"),
    fleet: int = typer.Option(None, "--fleet", help="devices deployed with the chosen design (fleet totals and the "
                              "search's carbon payback)"),
    memory: str = typer.Option(None, "--memory", help="memory chosen per design: auto (edge LPDDR parts and on chip "
                               "only) or technologies, e.g. lpddr4,lpddr5,none"),
    verbose: bool = typer.Option(None, "--verbose/--quiet", help="show the libraries' own log lines"),
) -> None:
    """Co-design search over pruned models and accelerators (no arguments: the offline default, minutes on a CPU)."""
    from catransformers.search.config import config_to_toml, load_config
    from catransformers.search.engine import Engine, SearchInterrupted

    overrides = {"search.trials": trials, "search.seed": seed, "search.mode": mode, "search.strategy": strategy,
                 "search.workers": workers, "search.ray_address": ray_address, "search.max_finetunes": max_finetunes,
                 "cost.profile": profile, "carbon.fleet_size": fleet, "search.verbose": verbose,
                 "hardware.memory": None if memory is None else split_names(memory)}
    if resume is not None:
        if config is not None:
            raise UserError("--resume reads the run's own config.toml; drop --config")
        if not (resume / "config.toml").is_file():
            raise UserError(f"{resume} holds no run (no config.toml)")
        for key in ("search.mode", "search.strategy", "search.seed"):
            if overrides[key] is not None:
                raise UserError(f"--resume cannot change --{key.split('.')[1]}; start a new run instead")
        cfg = load_config(str(resume / "config.toml"), overrides)
    else:
        cfg = load_config(config, overrides)
    if print_config:
        typer.echo(config_to_toml(cfg), nl=False)
        return
    engine = Engine.resume(resume, cfg) if resume is not None else Engine.start(cfg, out)
    done = sum(1 for r in engine.trials if r.done)
    total = 1 if (not engine.problem.mode.search_model and cfg.search.strategy == "nested") else cfg.search.trials
    console.print(f"[bold]{'resuming' if resume else 'run'}[/] {engine.store.root}: model {cfg.model.id}, mode "
                  f"{cfg.search.mode}, strategy {cfg.search.strategy}, {cfg.search.trials} trials, seed "
                  f"{cfg.search.seed}, workers {cfg.search.workers}")
    try:
        with _Reporter(max(total, done), done) as reporter:
            engine.reporter = reporter
            outcome = engine.run()
    except SearchInterrupted as err:
        console.print(f"[yellow]{err}[/]")
        sys.exit(130)
    _summary(outcome, engine)


def report(run_dir: Path = typer.Argument(..., help="a run folder written by `catransformers search`")) -> None:
    """Rebuild a run's Pareto table, plots and HTML report from its files."""
    if not (run_dir / "trials.csv").is_file():
        raise UserError(f"{run_dir} has no trials.csv; is it a run folder written by `catransformers search`?")
    try:
        from catransformers.report import build_report
    except ImportError:
        raise UserError("the report stage is missing in this install (catransformers.report.build_report)") from None
    path = build_report(run_dir)
    console.print(f"report: {path}")


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("report")(report)
