"""Self-contained HTML report of a search run: settings, hypervolume, Pareto table, plots, failures.

`build_report(run_dir)` reads what the search wrote (`run.json`, `trials.parquet` or `trials.csv`,
optionally `config.toml`), writes `pareto.csv`, the PNG plots and `report.html`. The page has inline CSS,
images as base64 data URIs and no scripts, so it opens offline and can be mailed as one file. All text taken
from the run is escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from catransformers.errors import UserError
from catransformers.fileio import atomic_write
from catransformers.report.noise import noise_note
from catransformers.report.pareto import bool_column, hypervolume, objective_specs, pareto_front
from catransformers.report.plots import write_plots
from catransformers.report.tables import (
    TEXT_COLUMNS,
    baseline_row,
    describe_hardware,
    describe_pruning,
    pareto_display_rows,
    pruned_dim_columns,
)

__all__ = ["RunData", "build_report", "load_run", "run_hypervolume", "run_summary"]

_HOW_TO = "produce it with `catransformers search --out {run_dir}`"


@dataclass(frozen=True)
class RunData:
    """Everything the report needs from a run folder."""

    run_dir: Path
    meta: dict[str, Any]
    trials: pd.DataFrame
    objectives: list[tuple[str, bool]]
    reference_point: dict[str, float] | None
    config: dict[str, Any] = field(default_factory=dict)
    config_text: str | None = None


def _read_table(path: Path, run_dir: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: resume the run with `catransformers search --resume {run_dir}`") from None
    except Exception as err:  # torn, truncated or not a table at all
        raise UserError(f"{path} is not a readable table ({type(err).__name__}): resume the run with "
                        f"`catransformers search --resume {run_dir}` to rewrite it") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_trials(run_dir: Path, meta: Mapping[str, Any]) -> pd.DataFrame:
    """The trials table, trusted only if it is the one the engine last wrote.

    run.json's "table" (row count and SHA-256 of trials.csv and trials.parquet, written right after them)
    decides: a file that does not match is refused by name. Runs without that record (hand-made folders)
    are checked against each other: a CSV and a parquet that disagree are refused too.
    """
    parquet, csv = run_dir / "trials.parquet", run_dir / "trials.csv"
    resume = f"resume the run with `catransformers search --resume {run_dir}` to rewrite it"
    record = meta.get("table") if isinstance(meta.get("table"), Mapping) else None
    if record is not None:
        if not csv.is_file():
            raise UserError(f"{csv} not found: {resume}")
        if _sha256(csv) != record.get("csv_sha256"):
            raise UserError(f"{csv} is not the table the search last wrote (truncated or edited; its checksum "
                            f"differs from run.json's): {resume}")
        use = csv
        if parquet.is_file():
            if _sha256(parquet) != record.get("parquet_sha256"):
                raise UserError(f"{parquet} disagrees with trials.csv and run.json (checksum differs): delete it "
                                f"or {resume}")
            use = parquet
        df = _read_table(use, run_dir)
        if len(df) != record.get("rows"):
            raise UserError(f"{use} has {len(df)} rows, run.json records {record.get('rows')}: {resume}")
        return df
    if not csv.is_file() and not parquet.is_file():
        raise UserError(f"{csv} not found: {_HOW_TO.format(run_dir=run_dir)}")
    tables = {p: _read_table(p, run_dir) for p in (csv, parquet) if p.is_file()}
    if len(tables) == 2:
        a, b = tables[csv], tables[parquet]
        cols = [c for c in ("trial", "status", "accuracy", "total_carbon_kg") if c in a.columns and c in b.columns]
        same = len(a) == len(b) and all(
            a[c].astype(str).reset_index(drop=True).equals(b[c].astype(str).reset_index(drop=True)) for c in cols)
        if not same:
            raise UserError(f"{parquet} disagrees with {csv.name} ({len(b)} vs {len(a)} rows or different values): "
                            f"delete the stale one or {resume}")
        return a
    return next(iter(tables.values()))


def load_run(run_dir: Path | str) -> RunData:
    """Read run.json, the trials table and config.toml (optional) of a run folder.

    Raises UserError (one line naming the file and how to produce it) when a required file is missing or
    malformed.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} not found: {_HOW_TO.format(run_dir=run_dir)}")
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise UserError(f"{meta_path} not found: {_HOW_TO.format(run_dir=run_dir)}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{meta_path} is not valid JSON ({err}): {_HOW_TO.format(run_dir=run_dir)}") from None
    if not isinstance(meta, dict) or not meta.get("objectives"):
        raise UserError(f"{meta_path} lists no 'objectives': {_HOW_TO.format(run_dir=run_dir)}")
    try:
        objectives = objective_specs(meta["objectives"])
    except (KeyError, AttributeError, TypeError):
        raise UserError(f"{meta_path} has malformed 'objectives' (want [{{'name': ..., 'maximize': ...}}]): "
                        f"{_HOW_TO.format(run_dir=run_dir)}") from None
    trials = _read_trials(run_dir, meta)
    ref = meta.get("reference_point")
    reference = {str(k): float(v) for k, v in ref.items()} if isinstance(ref, Mapping) else None
    config, config_text = {}, None
    cfg_path = run_dir / "config.toml"
    if cfg_path.is_file():
        config_text = cfg_path.read_text(encoding="utf-8")
        try:
            config = tomllib.loads(config_text)
        except tomllib.TOMLDecodeError:
            config = {}
    return RunData(run_dir, meta, trials, objectives, reference, config, config_text)


def run_hypervolume(
    front: pd.DataFrame, objectives: list[tuple[str, bool]], reference_point: Mapping[str, float] | None
) -> float | None:
    """Hypervolume of the front w.r.t. the reference point; None when an objective has no reference value."""
    if not reference_point or any(name not in reference_point for name, _ in objectives):
        return None
    names = [n for n, _ in objectives]
    if front.empty:
        return 0.0
    return hypervolume(front[names].to_numpy(dtype=float), [reference_point[n] for n in names],
                       [m for _, m in objectives])


def _count(trials: pd.DataFrame, status: str) -> int:
    if "status" not in trials.columns:
        return len(trials) if status == "completed" else 0
    return int((trials["status"].astype(str) == status).sum())


def run_summary(run: RunData, front: pd.DataFrame | None = None) -> dict[str, Any]:
    """Counts and headline numbers of a run (also what the CLI prints after `report`)."""
    front = pareto_front(run.trials, run.objectives) if front is None else front
    n_ft = run.meta.get("n_finetunes")
    if n_ft is None and "cached" in run.trials.columns:  # older run.json: count completed, uncached trials
        done = run.trials
        if "status" in done.columns:
            done = done[done["status"].astype(str) == "completed"]
        n_ft = int((~bool_column(done["cached"])).sum())
    return {
        "trials": len(run.trials),
        "completed": _count(run.trials, "completed"),
        "infeasible": _count(run.trials, "infeasible"),
        "failed": _count(run.trials, "failed"),
        "finetunes": n_ft,
        "wall_s": run.meta.get("wall_s"),
        "pareto": len(front),
        "hypervolume": run_hypervolume(front, run.objectives, run.reference_point),
        "reference_point": run.reference_point,
    }


# ---------------------------------------------------------------- HTML pieces

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #e5e5ea;padding-bottom:.2rem;margin-top:2.2rem}
.sub{color:#555;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{background:#f5f5f7;border-radius:8px;padding:.6rem .9rem;min-width:9rem}
.card .v{font-size:1.35rem;font-weight:600}.card .k{font-size:.8rem;color:#555}
.usage{background:#fff8e1;border-left:5px solid #f4b400;padding:.6rem 1rem;border-radius:4px}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #d2d2d7;padding:.3rem .5rem;vertical-align:top}
th{background:#f5f5f7;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.pre{white-space:pre-line}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #e5e5ea}
figcaption{font-size:.85rem;color:#555}
pre{background:#f5f5f7;padding:.8rem;overflow-x:auto;font-size:.8rem}
.err{color:#b00020;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.8rem}
.note{color:#555;font-size:.88rem}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v).lower()
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.6g}"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt_value(x) for x in v)
    return str(v)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


def _kv_table(d: Mapping[str, Any], css_id: str | None = None) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt_value(v))}</td></tr>" for k, v in _flatten(d))
    ident = f' id="{_e(css_id)}"' if css_id else ""
    return f"<table{ident}>{rows}</table>" if rows else '<p class="note">none recorded</p>'


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(s):
        return "—"
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(round(s), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m} min" if h else f"{m} min {s} s"


def _card(key: str, value: str) -> str:
    return f'<div class="card"><div class="v">{_e(value)}</div><div class="k">{_e(key)}</div></div>'


def _model_of(run: RunData) -> Any:
    settings = run.meta.get("settings") or {}
    for src in (run.meta, settings, run.config):
        if isinstance(src, Mapping) and src.get("model") not in (None, "", {}):
            return src["model"]
    return None


def _settings_html(run: RunData) -> str:
    settings = dict(run.meta.get("settings") or {})
    usage_key = next((k for k in settings if "usage" in str(k).lower()), None)
    parts = []
    if usage_key is not None:
        usage = settings.pop(usage_key)
        body = _kv_table(usage, "usage") if isinstance(usage, Mapping) else f"<p>{_e(_fmt_value(usage))}</p>"
        parts.append('<div class="usage"><h3>Usage profile</h3><p class="note">Drives operational carbon: '
                     'energy per inference × inferences over the lifetime × grid intensity of the use region.</p>'
                     f"{body}</div>")
    else:
        parts.append('<div class="usage"><h3>Usage profile</h3><p class="note">not recorded in run.json '
                     "(operational carbon depends on it; see the resolved config below).</p></div>")
    run_rows: dict[str, Any] = {k: run.meta.get(k) for k in ("mode", "strategy", "seed") if k in run.meta}
    model = _model_of(run)
    if model is not None:
        run_rows["model"] = model
    run_rows["objectives"] = ", ".join(f"{n} ({'max' if m else 'min'})" for n, m in run.objectives)
    parts.append("<h3>Run</h3>" + _kv_table(run_rows, "run-settings"))
    settings.pop("model", None)
    for name in ("constraints", "carbon"):
        key = next((k for k in settings if str(k).lower() == name), None)
        if key is not None:
            value = settings.pop(key)
            parts.append(f"<h3>{_e(name.capitalize())}</h3>" + (
                _kv_table(value, f"{name}-settings") if isinstance(value, Mapping) else f"<p>{_e(value)}</p>"))
    if settings:
        parts.append("<h3>Other settings</h3>" + _kv_table(settings, "other-settings"))
    return "\n".join(parts)


def _pareto_html(front: pd.DataFrame, objectives: list[tuple[str, bool]],
                 baseline: Mapping[str, Any] | None = None) -> str:
    if front.empty:
        return '<p class="note">No completed, feasible trial yet: the Pareto front is empty.</p>'
    header, rows = pareto_display_rows(front, objectives)
    base = baseline_row(header, baseline)
    rows = [base, *rows] if base else rows
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"pre" if h in TEXT_COLUMNS else "n"}">{_e(v)}</td>' for h, v in zip(header, r,
                                                                                                          strict=True))
        + "</tr>" for r in rows)
    return f'<table id="pareto-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _failed_html(trials: pd.DataFrame) -> str:
    if "status" not in trials.columns:
        return '<p class="note">No status column: failures not recorded.</p>'
    failed = trials[trials["status"].astype(str) == "failed"]
    if failed.empty:
        return '<p class="note">No failed trials.</p>'
    dims = pruned_dim_columns(trials)
    rows = []
    for _, r in failed.iterrows():
        trial = r.get("trial", "")
        err = r.get("error", "")
        err = "" if pd.isna(err) else str(err)
        rows.append(f"<tr><td class=\"n\">{_e(trial)}</td><td class=\"pre\">{_e(describe_pruning(r, dims))}</td>"
                    f"<td>{_e(describe_hardware(r))}</td><td class=\"err\">{_e(err)}</td></tr>")
    return ('<table id="failed-trials"><thead><tr><th>trial</th><th>pruned dims</th><th>hardware</th>'
            f"<th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _footprint_html(meta: Mapping[str, Any]) -> str:
    from catransformers.search.payback import payback_text

    payback = payback_text(meta.get("payback"))
    tail = f'<p id="payback">{_e(payback)}</p>' if payback else ""
    cc = meta.get("footprint") or meta.get("codecarbon")  # "codecarbon": the key of runs before the rename
    if not cc:
        return ('<p class="note">Not measured (enable the codecarbon footprint option of '
                "<code>catransformers search</code>).</p>" + tail)
    if isinstance(cc, Mapping):
        return _kv_table(cc, "footprint") + tail
    return f"<p>{_e(cc)}</p>" + tail


def _hv_html(summary: Mapping[str, Any], objectives: list[tuple[str, bool]]) -> str:
    ref = summary["reference_point"]
    hv = summary["hypervolume"]
    if hv is None:
        missing = [n for n, _ in objectives if not ref or n not in ref]
        return (f'<p id="hypervolume">Hypervolume: not computed (no reference value for '
                f"{_e(', '.join(missing))} in run.json).</p>")
    ref_text = ", ".join(f"{n} = {ref[n]:g}" for n, _ in objectives)
    units = " × ".join(n for n, _ in objectives)
    note = "" if hv > 0 else " No Pareto design dominates the reference point."
    return (f'<p id="hypervolume">Hypervolume of the Pareto front: <strong>{hv:.6g}</strong> '
            f"(units of {_e(units)}) with reference point {_e(ref_text)}.{_e(note)}</p>")


def _img(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(title)}">'
            f"<figcaption>{_e(title)} ({_e(path.name)})</figcaption></figure>")


def build_report(run_dir: Path | str) -> Path:
    """Write pareto.csv, the plots and report.html into `run_dir`; return the report's path."""
    run = load_run(run_dir)
    run_dir = run.run_dir
    missing = [n for n, _ in run.objectives if n not in run.trials.columns]
    if missing and len(run.trials):
        raise UserError(f"{run_dir}/trials.csv has no column {missing[0]!r} for objective {missing[0]!r}: "
                        f"{_HOW_TO.format(run_dir=run_dir)}")
    if missing:  # header-only or empty table: an empty front
        trials = run.trials.copy()
        for name in missing:
            trials[name] = pd.Series(dtype=float)
        run = RunData(run.run_dir, run.meta, trials, run.objectives, run.reference_point, run.config,
                      run.config_text)
    front = pareto_front(run.trials, run.objectives)
    atomic_write(run_dir / "pareto.csv", front.to_csv(index=False))
    summary = run_summary(run, front)
    baseline = run.meta.get("baseline") if isinstance(run.meta.get("baseline"), Mapping) else None
    base_score = baseline.get("score") if baseline else None
    plots = write_plots(run.trials, front, run.objectives, run_dir,
                        float(base_score) if isinstance(base_score, int | float) else None)

    name = run_dir.resolve().name
    mode = run.meta.get("mode", "?")
    cards = "".join([
        _card("trials", str(summary["trials"])),
        _card("completed", str(summary["completed"])),
        _card("infeasible (never fine-tuned)", str(summary["infeasible"])),
        _card("failed", str(summary["failed"])),
        _card("fine-tunes", "—" if summary["finetunes"] is None else str(summary["finetunes"])),
        _card("wall time", _duration(summary["wall_s"])),
        _card("Pareto designs", str(summary["pareto"])),
        *([_card("unpruned baseline (accuracy)", f"{float(base_score):.4g}")]
          if isinstance(base_score, int | float) else []),
    ])
    figures = "\n".join(_img(p, t) for t, p in plots.items()) or '<p class="note">No plottable trials.</p>'
    config = (f"<details><summary>Resolved config (config.toml)</summary><pre>{_e(run.config_text)}</pre></details>"
              if run.config_text else '<p class="note">config.toml not found.</p>')
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>CATransformers run {_e(name)}</title><style>{_CSS}</style></head>
<body>
<h1>CATransformers run: {_e(name)}</h1>
<p class="sub">mode <strong>{_e(mode)}</strong> · strategy {_e(run.meta.get("strategy", "?"))} ·
seed {_e(run.meta.get("seed", "?"))} · report generated {_e(generated)}</p>
<h2>Summary</h2>
<div class="cards">{cards}</div>
{_hv_html(summary, run.objectives)}
<h2>Settings</h2>
{_settings_html(run)}
<h2>Pareto designs</h2>
<p class="note">Completed, feasible designs not dominated in ({_e(", ".join(n for n, _ in run.objectives))});
↑ maximised, ↓ minimised. Carbon in kg CO2e over the usage profile's lifetime; also in pareto.csv.
The first row ("base") is the unpruned model's score, when the run scored it.</p>
{_noise_html(front)}
{_pareto_html(front, run.objectives, baseline)}
<h2>Plots</h2>
{figures}
<h2>The search's own footprint</h2>
{_footprint_html(run.meta)}
<h2>Failed trials</h2>
{_failed_html(run.trials)}
<h2>Configuration</h2>
{config}
</body></html>
"""
    return atomic_write(run_dir / "report.html", page)


def _noise_html(front: pd.DataFrame) -> str:
    note = noise_note(front)
    if note is None:
        has_ci = "accuracy_ci_low" in front.columns and front["accuracy_ci_low"].notna().any()
        return ('<p class="note" id="noise">No two Pareto designs have overlapping 95 % accuracy intervals.</p>'
                if has_ci else "")
    return f'<p class="note" id="noise">{_e(note)}; their order on the front is not evidence.</p>'


