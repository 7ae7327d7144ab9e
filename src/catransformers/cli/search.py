"""`catransformers search` (co-design search) and `catransformers report` (rebuild a run's report)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from catransformers.errors import UserError

console = Console(width=None if sys.stdout.isatty() else 160)
MAX_ROWS = 30  # Pareto rows printed; the full front is in pareto.csv


class _Reporter:
    """Progress bar plus one line per finished trial with the current best designs."""

    def __init__(self, total: int, done: int) -> None:
        self.progress = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[info]}"), console=console, transient=False)
        self.task = self.progress.add_task("search", total=total, completed=done, info="")
        self.seen: set[int] = set()

    def __enter__(self) -> _Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def trial_done(self, rec: dict[str, Any], engine: Any) -> None:
        from catransformers.search.engine import best_summary

        if rec["trial"] in self.seen or rec["status"] == "pending":
            return
        self.seen.add(rec["trial"])
        self.progress.advance(self.task)
        if rec["status"] == "completed":
            acc = rec.get("accuracy") or {}
            tag = "cached" if rec.get("cached") else (f"fine-tune {acc.get('wall_s', 0):.0f}s" if acc else "")
            what = f"[green]done[/] {rec['prune']} {tag}"
        else:
            what = f"[yellow]{rec['status']}[/] {rec.get('prune') or ''}: {rec.get('error')}"
        try:
            summary = best_summary(engine.front(), engine.problem)
        except Exception:
            summary = ""
        self.progress.console.print(f"trial {rec['trial']:>3} {what}  [dim]{summary}[/]")
        self.progress.update(self.task, info=f"{engine.n_finetunes()} fine-tunes")


def pareto_table(front: pd.DataFrame, knob_cols: list[str], title: str) -> Table:
    """The Pareto designs: accuracy, carbon split, latency, energy, area, pruned dims, hardware."""
    table = Table(title=title, caption="pruned dims per encoder: layers/heads/FFN blocks/hidden blocks; hardware: "
                  "clusters×width×depth, L2 KB, L2 bw, GLB MB")
    encoders = list(dict.fromkeys(c.split(".")[0] for c in knob_cols))
    cols = ["trial", "accuracy", "carbon kg", "embodied die/DRAM, operational", "latency ms", "energy mJ", "area mm²",
            *encoders, "hardware"]
    for c in cols:
        table.add_column(c, no_wrap=True)
    for _, r in front.iterrows():
        split = f"{r['embodied_die_kg']:.3g}/{r['embodied_dram_kg']:.3g}, {r['operational_kg']:.3g}"
        hw = (f"{int(r['clusters'])}×{int(r['width'])}×{int(r['depth'])}, {r['l2_kb']:g}, {r['l2_bw']:g}, "
              f"{r['glb_mb']:g}")
        acc = "-" if pd.isna(r["accuracy"]) else f"{r['accuracy']:.4f}"
        dims = ["/".join(str(int(r[f"{enc}.{k}"])) if pd.notna(r[f"{enc}.{k}"]) else "-"
                         for k in ("layers", "heads", "ffn_blocks", "hidden_blocks")) for enc in encoders]
        table.add_row(str(int(r["trial"])), acc, f"{r['total_carbon_kg']:.4g}", split, f"{r['latency_s'] * 1e3:.3g}",
                      f"{r['energy_per_inference_j'] * 1e3:.3g}", f"{r['area_mm2']:.3g}", *dims, hw)
    return table


def _summary(outcome: Any, engine: Any) -> None:
    knob_cols = [c for c in outcome.table.columns if "." in c and c.split(".")[1] in
                 ("layers", "heads", "ffn_blocks", "hidden_blocks")]
    shown = outcome.front.head(MAX_ROWS)
    more = f", first {MAX_ROWS} shown; all in pareto.csv" if len(outcome.front) > MAX_ROWS else ""
    console.print(pareto_table(shown, knob_cols, f"Pareto front ({len(outcome.front)} designs{more})"))
    info = outcome.info
    fp = info.get("footprint") or {}
    fp_txt = (f", search footprint {fp['emissions_kg'] * 1e3:.3g} gCO2e ({fp['energy_kwh']:.3g} kWh)"
              if "emissions_kg" in fp else "")
    console.print(f"{info['trials']} trials ({info['n_completed']} completed, {info['n_infeasible']} infeasible, "
                  f"{info['n_failed']} failed), {info['n_finetunes']} fine-tunes, "
                  f"hypervolume {info['hypervolume']:.4g}, "
                  f"wall {info['wall_s']:.0f} s{fp_txt}")
    report = _try_report(outcome.run_dir)
    console.print(f"files: {outcome.run_dir}/trials.csv, trials.parquet, run.json, config.toml"
                  + (f", {report}" if report else ""))


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
) -> None:
    """Co-design search over pruned models and accelerators (no arguments: the offline default, minutes on a CPU)."""
    from catransformers.search.config import config_to_toml, load_config
    from catransformers.search.engine import Engine, SearchInterrupted

    overrides = {"search.trials": trials, "search.seed": seed, "search.mode": mode, "search.strategy": strategy,
                 "search.workers": workers, "search.ray_address": ray_address, "search.max_finetunes": max_finetunes}
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
    done = sum(1 for r in engine.trials if r["status"] != "pending")
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
