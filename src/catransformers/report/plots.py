"""PNG plots of a run: trade-off scatters with the Pareto front marked, and the carbon breakdown.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend switch), so building a
report never opens a window nor changes the caller's matplotlib state.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from catransformers.fileio import atomic_write_with
from catransformers.report.pareto import feasible_rows, objective_specs, pareto_mask

__all__ = [
    "DPI",
    "plot_accuracy_vs_carbon",
    "plot_accuracy_vs_energy",
    "plot_accuracy_vs_latency",
    "plot_carbon_breakdown",
    "plot_latency_vs_carbon",
    "write_plots",
]

DPI = 150
_FRONT_COLOR = "#d62728"
_CARBON_LABEL = "total carbon (kg CO$_2$e, embodied + operational)"


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    return atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=DPI, bbox_inches="tight", format="png"))


def _accuracy_label(df: pd.DataFrame) -> str:
    if "metric" in df.columns:
        metrics = [str(m) for m in df["metric"].dropna().unique()]
        if metrics:
            return f"accuracy ({', '.join(metrics)})"
    return "accuracy"


def _staircase(ax: Any, x: np.ndarray, y: np.ndarray, x_max: bool, y_max: bool, label: str) -> None:
    """Draw the 2-D non-dominated staircase of (x, y) for the given optimisation directions."""
    pts = np.column_stack([x, y])
    front = pts[pareto_mask(pts, [x_max, y_max], keep_duplicates=False)]
    if len(front) == 0:
        return
    front = front[np.argsort(front[:, 0])]
    # the attained region holds each point's y until the next point along x when x is minimised
    where = "pre" if x_max else "post"
    ax.step(front[:, 0], front[:, 1], where=where, color=_FRONT_COLOR, lw=1.2, alpha=0.8, label=label, zorder=2)


def _scatter_tradeoff(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    x_col: str,
    y_col: str,
    x_scale: float,
    x_label: str,
    y_label: str,
    title: str,
    color_col: str | None,
    color_scale: float,
    color_label: str,
    x_max: bool,
    y_max: bool,
    path: Path,
    baseline: float | None = None,
) -> Path:
    ok = feasible_rows(trials, [x_col, y_col])
    fig = Figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    if "status" in trials.columns:
        bad = trials[trials["status"].astype(str) == "infeasible"]
        bad = bad[np.isfinite(pd.to_numeric(bad.get(x_col), errors="coerce").to_numpy(dtype=float))
                  & np.isfinite(pd.to_numeric(bad.get(y_col), errors="coerce").to_numpy(dtype=float))]
        if len(bad):
            ax.scatter(bad[x_col] * x_scale, bad[y_col], marker="x", s=18, color="0.6",
                       label=f"infeasible ({len(bad)})", zorder=1)
    x = ok[x_col].to_numpy(dtype=float) * x_scale
    y = ok[y_col].to_numpy(dtype=float)
    if color_col and color_col in ok.columns and len(ok):
        c = pd.to_numeric(ok[color_col], errors="coerce").to_numpy(dtype=float) * color_scale
        sc = ax.scatter(x, y, c=c, cmap="viridis", s=26, edgecolors="none", label=f"feasible ({len(ok)})",
                        zorder=3)
        fig.colorbar(sc, ax=ax, label=color_label)
    else:
        ax.scatter(x, y, s=26, color="#1f77b4", label=f"feasible ({len(ok)})", zorder=3)
    if len(ok):
        _staircase(ax, x, y, x_max, y_max, "front of these two axes")
    fr = feasible_rows(front, [x_col, y_col]) if len(front) else front
    if len(fr):
        ax.scatter(fr[x_col].to_numpy(dtype=float) * x_scale, fr[y_col].to_numpy(dtype=float), s=90,
                   facecolors="none", edgecolors=_FRONT_COLOR, linewidths=1.6,
                   label=f"Pareto designs of the run ({len(fr)})", zorder=4)
    if baseline is not None and np.isfinite(baseline):
        ax.axhline(baseline, color="0.35", ls="--", lw=1.0, label=f"unpruned baseline ({baseline:.4g})", zorder=2)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        # below the axes so it never hides points; two columns keep it short
        leg = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
        for handle, text in zip(leg.legend_handles, labels, strict=True):
            if text.startswith("feasible") and hasattr(handle, "set_array"):
                handle.set_array(None)  # otherwise the colour map repaints the swatch
                handle.set_facecolor("#21918c")  # viridis mid-point: the colour encodes the colour-bar column
    return _save(fig, path)


def plot_accuracy_vs_carbon(trials: pd.DataFrame, front: pd.DataFrame, path: Path,
                            baseline: float | None = None) -> Path:
    """Accuracy against total carbon, coloured by latency (ms), with the front marked."""
    return _scatter_tradeoff(
        trials, front, "total_carbon_kg", "accuracy", 1.0, _CARBON_LABEL, _accuracy_label(trials),
        "Accuracy vs total carbon", "latency_s", 1e3, "latency (ms)", False, True, path,
        baseline,
    )


def plot_accuracy_vs_latency(trials: pd.DataFrame, front: pd.DataFrame, path: Path,
                             baseline: float | None = None) -> Path:
    """Accuracy against latency (ms), coloured by total carbon, with the front marked."""
    return _scatter_tradeoff(
        trials, front, "latency_s", "accuracy", 1e3, "latency per inference (ms)", _accuracy_label(trials),
        "Accuracy vs latency", "total_carbon_kg", 1.0, "total carbon (kg CO$_2$e)", False, True, path,
        baseline,
    )


def plot_accuracy_vs_energy(trials: pd.DataFrame, front: pd.DataFrame, path: Path,
                            baseline: float | None = None) -> Path:
    """Accuracy against energy per inference (mJ), coloured by latency, with the front marked."""
    return _scatter_tradeoff(
        trials, front, "energy_per_inference_j", "accuracy", 1e3, "energy per inference (mJ)",
        _accuracy_label(trials), "Accuracy vs energy", "latency_s", 1e3, "latency (ms)", False, True, path,
        baseline,
    )


def plot_latency_vs_carbon(trials: pd.DataFrame, front: pd.DataFrame, path: Path) -> Path:
    """Hardware-only view: total carbon against latency (ms), coloured by area, with the front marked."""
    return _scatter_tradeoff(
        trials, front, "latency_s", "total_carbon_kg", 1e3, "latency per inference (ms)", _CARBON_LABEL,
        "Total carbon vs latency", "area_mm2", 1.0, "area (mm²)", False, False, path,
    )


def plot_carbon_breakdown(front: pd.DataFrame, path: Path) -> Path:
    """Stacked bars of embodied die / embodied DRAM / operational carbon for each Pareto design."""
    parts = [("embodied_die_kg", "embodied: die", "#8c564b"), ("embodied_dram_kg", "embodied: DRAM", "#e7ba52"),
             ("operational_kg", "operational", "#2ca02c")]
    data = front.sort_values("total_carbon_kg", kind="stable") if "total_carbon_kg" in front.columns else front
    n = len(data)
    fig = Figure(figsize=(min(max(5.0, 0.55 * n + 2.5), 16.0), 4.8))
    ax = fig.add_subplot(1, 1, 1)
    pos = np.arange(n)
    bottom = np.zeros(n)
    for col, label, color in parts:
        vals = pd.to_numeric(data[col], errors="coerce").fillna(0.0).to_numpy(dtype=float) if col in data else (
            np.zeros(n))
        ax.bar(pos, vals, bottom=bottom, color=color, label=label, width=0.7)
        bottom += vals
    labels = []
    for _, row in data.iterrows():
        text = f"#{int(row['trial'])}" if "trial" in data.columns and pd.notna(row["trial"]) else ""
        if "accuracy" in data.columns and pd.notna(row.get("accuracy")):
            text += f"\nacc {float(row['accuracy']):.3g}"
        elif "latency_s" in data.columns and pd.notna(row.get("latency_s")):
            text += f"\n{float(row['latency_s']) * 1e3:.3g} ms"
        labels.append(text)
    ax.set_xticks(pos, labels, fontsize=7)
    ax.set_xlabel("Pareto design (trial; sorted by total carbon)")
    ax.set_ylabel("carbon (kg CO$_2$e)")
    ax.set_title("Carbon breakdown of the Pareto designs")
    ax.grid(True, axis="y", alpha=0.3)
    for x, total in zip(pos, bottom, strict=True):
        ax.annotate(f"{total:.3g}", (x, total), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
    ax.margins(y=0.08)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="kg CO$_2$e", title_fontsize=8)
    if n == 0:
        ax.text(0.5, 0.5, "no feasible Pareto designs", ha="center", va="center", transform=ax.transAxes)
    return _save(fig, path)


def _has_values(df: pd.DataFrame, col: str) -> bool:
    return col in df.columns and bool(np.isfinite(pd.to_numeric(df[col], errors="coerce").to_numpy(float)).any())


def write_plots(
    trials: pd.DataFrame, front: pd.DataFrame, objectives: Iterable[Any], out_dir: Path,
    baseline: float | None = None,
) -> dict[str, Path]:
    """Write the plots that the run's columns support into `out_dir`; returns {title: path}.

    Runs with accuracy get accuracy vs carbon and accuracy vs latency; hardware-only runs (no accuracy
    objective) get latency vs carbon; an energy objective adds accuracy vs energy. Every run with a carbon
    split gets the breakdown bar chart. `baseline` (the unpruned model's score) is a dashed line on accuracy plots.
    """
    names = [n for n, _ in objective_specs(objectives)]
    out_dir = Path(out_dir)
    plots: dict[str, Path] = {}
    has_acc = "accuracy" in names or _has_values(trials, "accuracy")
    if has_acc and _has_values(trials, "accuracy"):
        if _has_values(trials, "total_carbon_kg"):
            plots["Accuracy vs total carbon"] = plot_accuracy_vs_carbon(
                trials, front, out_dir / "accuracy_vs_carbon.png", baseline)
        if _has_values(trials, "latency_s"):
            plots["Accuracy vs latency"] = plot_accuracy_vs_latency(trials, front, out_dir / "accuracy_vs_latency.png",
                                                                     baseline)
        if "energy_per_inference_j" in names and _has_values(trials, "energy_per_inference_j"):
            plots["Accuracy vs energy"] = plot_accuracy_vs_energy(trials, front, out_dir / "accuracy_vs_energy.png",
                                                                   baseline)
    elif _has_values(trials, "latency_s") and _has_values(trials, "total_carbon_kg"):
        plots["Total carbon vs latency"] = plot_latency_vs_carbon(trials, front, out_dir / "latency_vs_carbon.png")
    if {"embodied_die_kg", "embodied_dram_kg", "operational_kg"} & set(front.columns) and len(front):
        plots["Carbon breakdown of the Pareto designs"] = plot_carbon_breakdown(
            front, out_dir / "carbon_breakdown.png")
    return plots


def plot_sweep(designs: pd.DataFrame, front: pd.DataFrame, path: Path, model_id: str,
               max_latency_ms: float | None = None) -> Path:
    """A hardware sweep: total carbon against latency of every design, feasible ones coloured, the front joined."""
    fig = Figure(figsize=(7.0, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    feasible = designs["feasible"].astype(bool)
    bad, ok = designs[~feasible], designs[feasible]
    ax.scatter(bad["latency_s"] * 1e3, bad["total_carbon_kg"], s=6, c="0.75", label=f"infeasible ({len(bad)})")
    ax.scatter(ok["latency_s"] * 1e3, ok["total_carbon_kg"], s=8, c="#1f77b4", label=f"feasible ({len(ok)})")
    if len(front):
        ax.plot(front["latency_s"] * 1e3, front["total_carbon_kg"], "-o", c=_FRONT_COLOR, ms=4,
                label=f"Pareto front ({len(front)})")
        if {"total_carbon_kg_p05", "total_carbon_kg_p95"} <= set(front.columns):  # the uncertainty band (P5-P95)
            mid = front["total_carbon_kg"].to_numpy(float)
            err = np.vstack([mid - front["total_carbon_kg_p05"].to_numpy(float),
                             front["total_carbon_kg_p95"].to_numpy(float) - mid])
            ax.errorbar(front["latency_s"] * 1e3, mid, yerr=np.clip(err, 0, None), fmt="none", ecolor=_FRONT_COLOR,
                        alpha=0.5, capsize=2, label="P5-P95 of total carbon")
    if max_latency_ms is not None:
        ax.axvline(max_latency_ms, ls="--", c="0.4", lw=0.8, label=f"latency cap {max_latency_ms:g} ms")
    ax.set_xscale("log")
    ax.set_xlabel("latency per inference (ms)")
    ax.set_ylabel(_CARBON_LABEL)
    ax.set_title(f"{model_id}: {len(designs)} configs")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
