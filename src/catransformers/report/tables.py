"""The Pareto table as display text, shared by the HTML report and the CLI's rich table.

One function turns the front into rows of formatted strings so that what the terminal prints and what the
HTML report shows are the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from rich.table import Table

from catransformers.models import PRUNE_KEYS
from catransformers.report.pareto import objective_specs, pareto_front

__all__ = [
    "PRUNE_SUFFIXES",
    "baseline_row",
    "describe_hardware",
    "describe_memory",
    "describe_pruning",
    "format_pareto_table",
    "pareto_display_rows",
    "pruned_dim_columns",
]

# Pruned-dimension columns of trials.csv are "<encoder>.<knob>" (e.g. "text.heads").
PRUNE_SUFFIXES = PRUNE_KEYS
_SUFFIX_LABEL = {"layers": "layers", "heads": "heads", "ffn_blocks": "FFN blocks", "hidden_blocks": "hidden blocks"}


def pruned_dim_columns(df: pd.DataFrame) -> list[str]:
    """Columns holding pruned dimensions, in table order (by encoder, then layers/heads/FFN/hidden)."""
    cols = [c for c in df.columns if "." in str(c) and str(c).rsplit(".", 1)[1] in PRUNE_SUFFIXES]
    encoders = list(dict.fromkeys(str(c).rsplit(".", 1)[0] for c in cols))
    return sorted(cols, key=lambda c: (encoders.index(c.rsplit(".", 1)[0]), PRUNE_SUFFIXES.index(c.rsplit(".", 1)[1])))


def is_missing(x: Any) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _num(x: Any, fmt: str = ".4g") -> str:
    """Number as text; missing or non-numeric values as an em dash."""
    if is_missing(x):
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, fmt)


def _int(x: Any) -> str:
    if is_missing(x):
        return "—"
    try:
        return str(round(float(x)))
    except (TypeError, ValueError):
        return str(x)


_SUFFIX_SHORT = {"layers": "L", "heads": "H", "ffn_blocks": "F", "hidden_blocks": "D"}


def describe_pruning(row: pd.Series | dict, cols: Sequence[str], *, compact: bool = False) -> str:
    """Pruned dimensions as one line per encoder.

    Long form 'text: 6 layers, 8 heads, 6 FFN blocks, 8 hidden blocks'; compact form 'text L6 H8 F6 D8'
    (L layers, H heads, F FFN blocks, D hidden blocks).
    """
    by_encoder: dict[str, list[str]] = {}
    for col in cols:
        enc, suffix = col.rsplit(".", 1)
        value = row.get(col)
        if is_missing(value):
            continue
        text = f"{_SUFFIX_SHORT[suffix]}{_int(value)}" if compact else f"{_int(value)} {_SUFFIX_LABEL[suffix]}"
        by_encoder.setdefault(enc, []).append(text)
    if not by_encoder:
        prune = row.get("prune")
        return "—" if is_missing(prune) or not str(prune) else str(prune)
    if compact:
        return "\n".join(f"{enc} {' '.join(parts)}" for enc, parts in by_encoder.items())
    return "\n".join(f"{enc}: {', '.join(parts)}" for enc, parts in by_encoder.items())


def describe_hardware(row: pd.Series | dict, *, compact: bool = False) -> str:
    """Accelerator as text: clusters × (width × depth) PEs, per-cluster L2 with its bandwidth, global buffer.

    Compact form '4x128x32 L2 64K/32 G2M' (clusters x width x depth, L2 KB / words per cycle, GLB MB).
    """
    get = row.get
    if isinstance(get("device"), str) and get("device"):  # a bought device (catransformers.devices)
        return f"{get('device')} b{_int(get('batch'))}" if compact else f"{get('device')}, batch {_int(get('batch'))}"
    if all(is_missing(get(k)) for k in ("clusters", "width", "depth")):
        return "—"
    if compact:
        text = f"{_int(get('clusters'))}x{_int(get('width'))}x{_int(get('depth'))}"
        if not is_missing(get("l2_kb")):
            text += f" L2 {_int(get('l2_kb'))}K" + ("" if is_missing(get("l2_bw")) else f"/{_int(get('l2_bw'))}")
        if not is_missing(get("glb_mb")):
            text += f" G{_num(get('glb_mb'), 'g')}M"
        return text
    parts = [f"{_int(get('clusters'))} × {_int(get('width'))}w×{_int(get('depth'))}d"]
    if not is_missing(get("l2_kb")):
        bw = "" if is_missing(get("l2_bw")) else f" @{_int(get('l2_bw'))} w/cyc"
        parts.append(f"L2 {_int(get('l2_kb'))} KB{bw}")
    if not is_missing(get("glb_mb")):
        parts.append(f"GLB {_num(get('glb_mb'), 'g')} MB")
    return ", ".join(parts)


def describe_memory(row: pd.Series | dict) -> str:
    """'lpddr4 0.25G', 'lpddr3_20nm 1G', 'on chip' (weights in the global buffer), a device's '24G', or ''."""
    get = row.get
    if isinstance(get("device"), str) and get("device"):
        return "" if is_missing(get("memory_gb")) else f"{float(get('memory_gb')):g}G"
    kind, gb = get("dram_type"), get("dram_gb")
    if is_missing(kind) or is_missing(gb):
        return ""
    return "on chip" if str(kind) == "none" or float(gb) == 0 else f"{kind} {float(gb):g}G"


def with_memory(hardware: str, row: pd.Series | dict, sep: str = "\n") -> str:
    """A design's hardware text followed by its memory (describe_memory), when it has one."""
    memory = describe_memory(row)
    return f"{hardware}{sep}{memory}" if memory else hardware


def _embodied_kg(row: pd.Series) -> Any:
    if "embodied_kg" in row.index and not is_missing(row["embodied_kg"]):
        return row["embodied_kg"]
    die, dram = row.get("embodied_die_kg"), row.get("embodied_dram_kg")
    if is_missing(die) and is_missing(dram):
        return None
    return (0.0 if is_missing(die) else float(die)) + (0.0 if is_missing(dram) else float(dram))


def pareto_display_rows(
    front: pd.DataFrame, objectives: Iterable[Any], *, compact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the Pareto table (objective columns marked ↑ maximise / ↓ minimise).

    Columns present in the front only: trial, accuracy (metric) with its 95 % interval, total / embodied /
    operational carbon in kg CO2e, latency ms, energy mJ, area mm², TOPS, pruned dims, hardware. `compact`
    (terminal, 80 columns) keeps trial, accuracy, total carbon, latency, energy / area when they are
    objectives, and the short pruning / hardware forms; the report has the rest.
    """
    specs = dict(objective_specs(objectives))

    def mark(col: str, label: str) -> str:
        return f"{label} {'↑' if specs[col] else '↓'}" if col in specs else label

    metric = ""
    if "metric" in front.columns and not compact:
        metrics = [str(m) for m in front["metric"].dropna().unique()]
        metric = f" ({', '.join(metrics)})" if metrics else ""
    dims = pruned_dim_columns(front)
    columns: list[tuple[str, Any]] = []
    if "trial" in front.columns:
        columns.append(("#" if compact else "trial", lambda r: _int(r["trial"])))
    if "accuracy" in front.columns:
        columns.append((mark("accuracy", "acc" if compact else f"accuracy{metric}"), lambda r: _num(r["accuracy"])))
        if not compact and _has_values(front, "accuracy_ci_low"):
            columns.append(("95% interval", lambda r: _interval(r)))
    if "total_carbon_kg" in front.columns:
        label = "CO2e kg" if compact else "total carbon (kg CO2e)"
        columns.append((mark("total_carbon_kg", label), lambda r: _num(r["total_carbon_kg"])))
    if {"embodied_die_kg", "embodied_dram_kg", "embodied_kg"} & set(front.columns) and not compact:
        columns.append(("embodied (kg)", lambda r: _num(_embodied_kg(r))))
        if "embodied_die_kg" in front.columns:
            columns.append(("die / DRAM (kg)", lambda r: f"{_num(r.get('embodied_die_kg'))} / "
                            f"{_num(r.get('embodied_dram_kg'))}"))
    if "operational_kg" in front.columns and not compact:
        columns.append(("operational (kg)", lambda r: _num(r["operational_kg"])))
    if "latency_s" in front.columns:
        columns.append((mark("latency_s", "ms" if compact else "latency (ms)"),
                        lambda r: _num(_scaled(r["latency_s"], 1e3), ".3g" if compact else ".4g")))
    if "energy_per_inference_j" in front.columns and (not compact or "energy_per_inference_j" in specs):
        columns.append((mark("energy_per_inference_j", "mJ" if compact else "energy (mJ)"),
                        lambda r: _num(_scaled(r["energy_per_inference_j"], 1e3), ".3g" if compact else ".4g")))
    if "area_mm2" in front.columns and (not compact or "area_mm2" in specs):
        columns.append((mark("area_mm2", "area (mm²)"), lambda r: _num(r["area_mm2"])))
    if "tops" in front.columns and not compact:
        columns.append(("TOPS", lambda r: _num(r["tops"], ".3g")))
    if dims or "prune" in front.columns:
        columns.append(("pruned dims", lambda r: describe_pruning(r, dims, compact=compact)))
    if {"clusters", "width", "depth"} <= set(front.columns):
        columns.append(("hardware", lambda r: with_memory(describe_hardware(r, compact=compact), r)))
    header = [name for name, _ in columns]
    rows = [[fn(row) for _, fn in columns] for _, row in front.iterrows()]
    return header, rows


def _has_values(df: pd.DataFrame, col: str) -> bool:
    return col in df.columns and bool(pd.to_numeric(df[col], errors="coerce").notna().any())


def _interval(row: pd.Series) -> str:
    low, high = row.get("accuracy_ci_low"), row.get("accuracy_ci_high")
    if is_missing(low) or is_missing(high):
        return "—"
    return f"{_num(low)} – {_num(high)}"


# Pareto-table columns that hold text (left-aligned, wrapped), in the CLI table and the HTML report alike.
TEXT_COLUMNS = ("pruned dims", "hardware", "die / DRAM (kg)", "95% interval")


def baseline_row(header: Sequence[str], baseline: Mapping[str, Any] | None) -> list[str]:
    """The unpruned model's row for a Pareto table with `header`: its score, the rest left blank."""
    if not baseline or "score" not in baseline:
        return []
    cells = []
    for name in header:
        if name in ("#", "trial"):
            cells.append("base")
        elif name.startswith("acc"):
            cells.append(_num(baseline.get("score")))
        elif name == "95% interval":
            cells.append(_interval(pd.Series({"accuracy_ci_low": baseline.get("score_ci_low"),
                                              "accuracy_ci_high": baseline.get("score_ci_high")})))
        elif name == "pruned dims":
            cells.append("unpruned")
        else:
            cells.append("")
    return cells


def _scaled(x: Any, factor: float) -> Any:
    if is_missing(x):
        return None
    try:
        return float(x) * factor
    except (TypeError, ValueError):
        return x


COMPACT_CAPTION = ("pruned: L layers, H heads, F FFN blocks, D hidden blocks per encoder; hardware: clusters x "
                   "width x depth, L2 KB/bandwidth, GLB MB; carbon split, energy, area, intervals: report.html")


def format_pareto_table(
    df: pd.DataFrame, objectives: Iterable[Any], *, title: str | None = None, compact: bool = True,
    baseline: Mapping[str, Any] | None = None, max_rows: int | None = None,
) -> Table:
    """A rich Table of the Pareto designs of `df` (a trials table or an already computed front).

    Compact by default: fits an 80-column terminal (numbers never cut; the pruning and hardware text
    wraps), see `pareto_display_rows`. `baseline` (run.json's) adds the unpruned model as the first row.
    """
    specs = objective_specs(objectives)
    front = pareto_front(df, specs)
    shown = front if max_rows is None else front.head(max_rows)
    header, rows = pareto_display_rows(shown, specs, compact=compact)
    base = baseline_row(header, baseline)
    table = Table(title=title or f"Pareto designs ({len(front)})", show_lines=bool(rows) and not compact,
                  caption=COMPACT_CAPTION if compact else None, pad_edge=False, collapse_padding=compact)
    for i, name in enumerate(header):
        numeric = name not in TEXT_COLUMNS
        widest = max([len(name), *(len(r[i]) for r in rows), len(base[i]) if base else 0])
        table.add_column(name, justify="right" if numeric else "left", overflow="fold", no_wrap=numeric,
                         min_width=widest if numeric else None)
    if base:
        table.add_row(*base, style="dim")
    for row in rows:
        table.add_row(*row)
    return table
