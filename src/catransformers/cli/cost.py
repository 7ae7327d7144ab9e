"""`catransformers estimate` (one design, readable breakdown or --json) and `sweep` (a whole hardware space).

Imports of numpy/pandas/matplotlib happen inside the commands, and nothing here imports torch,
transformers or ax, so `sweep` starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from catransformers.errors import UserError

_HW_LIST_KEYS = ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb", "freq_mhz", "precision_bits", "node_nm",
                 "dram_type", "dram_gb", "dram_bw_gbps")


def _constraint(name: str, raw: str | None) -> float | str | None:
    """'none' removes a constraint; a number sets it; None keeps the default (returned as the sentinel '')."""
    if raw is None:
        return ""
    if raw.strip().lower() in ("none", "off", "inf"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"--{name} {raw}: give a number or 'none'") from None
    if value <= 0:
        raise UserError(f"--{name} {raw}: must be positive (or 'none' to remove the constraint)")
    return value


def _settings(base: dict[str, Any], *, batch, tokens, image_size, prefill_tokens, decode_tokens, dataflow,
              double_buffer, region, ci_g_per_kwh, ci_csv, lifetime_years, inferences_per_s, hours_per_day,
              total_inferences, idle, idle_power_w, gpa, fab, fab_ci_g_per_kwh, fab_yield, max_latency_ms,
              max_area_mm2, max_tops):
    """CostSettings from a config-file dict `base` overridden by the flags that were given."""
    from catransformers.cost import CostSettings

    workload = dict(base.get("workload", {}))
    carbon = dict(base.get("carbon", {}))
    top: dict[str, Any] = {k: v for k, v in base.items() if k in ("dataflow", "double_buffered", "tech")}
    top |= {k: (None if isinstance(v, str) and v.lower() == "none" else v)
            for k, v in base.get("constraints", {}).items()}
    for key, val in (("batch", batch), ("tokens", tokens), ("image_size", image_size),
                     ("prefill_tokens", prefill_tokens), ("decode_tokens", decode_tokens)):
        if val is not None:
            workload[key] = val
    for key, val in (("region", region), ("ci_g_per_kwh", ci_g_per_kwh), ("ci_csv", ci_csv),
                     ("lifetime_years", lifetime_years), ("inferences_per_s", inferences_per_s),
                     ("hours_per_day", hours_per_day), ("total_inferences", total_inferences),
                     ("include_idle", idle), ("idle_power_w", idle_power_w), ("gpa", gpa), ("fab_location", fab),
                     ("fab_ci_g_per_kwh", fab_ci_g_per_kwh), ("fab_yield", fab_yield)):
        if val is not None:
            carbon[key] = val
    if dataflow is not None:
        top["dataflow"] = dataflow
    if double_buffer is not None:
        top["double_buffered"] = double_buffer
    for key, flag, val in (("max_latency_ms", "max-latency-ms", max_latency_ms),
                           ("max_area_mm2", "max-area-mm2", max_area_mm2), ("max_tops", "max-tops", max_tops)):
        parsed = _constraint(flag, val)
        if parsed != "":
            top[key] = parsed
    return CostSettings(workload=workload, carbon=carbon, **top)


# Options shared by both commands (typer reads them from each signature).
_O = {
    "model": typer.Option(..., "--model", "-m", help="Registry id or path to a Hugging Face config.json."),
    "prune": typer.Option(None, "--prune", help="Pruning, e.g. text.layers=6,vision.ffn_blocks=5 (CLIP)."),
    "batch": typer.Option(None, "--batch", help="Batch size (default 1)."),
    "tokens": typer.Option(None, "--tokens", help="Text/encoder tokens (CLIP text default 77)."),
    "image_size": typer.Option(None, "--image-size", help="Vision input size in pixels (default 224)."),
    "prefill_tokens": typer.Option(None, "--prefill-tokens", help="Causal LMs: prompt tokens."),
    "decode_tokens": typer.Option(None, "--decode-tokens", help="Causal LMs: generated tokens (default 0)."),
    "dataflow": typer.Option(None, "--dataflow", help="ws (default) or os."),
    "double_buffer": typer.Option(None, "--double-buffer/--no-double-buffer",
                                  help="WS weight loads overlapped with the previous fold (default on)."),
    "region": typer.Option(None, "--region", help="Use region for grid intensity (default california)."),
    "ci": typer.Option(None, "--ci-g-per-kwh", help="Use-phase grid intensity, overrides --region."),
    "ci_csv": typer.Option(None, "--ci-csv", help="Hourly intensity CSV averaged over the active hours."),
    "lifetime": typer.Option(None, "--lifetime-years", help="Deployment lifetime (default 3)."),
    "rate": typer.Option(None, "--inferences-per-s", help="Inference rate while active (default 1)."),
    "hours": typer.Option(None, "--hours-per-day", help="Active hours per day (default 6)."),
    "total": typer.Option(None, "--total-inferences", help="Lifetime inference count (overrides the rate)."),
    "idle": typer.Option(None, "--idle/--no-idle", help="Add idle (leakage) power over non-busy time."),
    "idle_w": typer.Option(None, "--idle-power-w", help="Idle power in W (default: the chip's leakage)."),
    "gpa": typer.Option(None, "--gpa", help="Fab gas abatement: 95 (default), 97 or 99."),
    "fab": typer.Option(None, "--fab", help="Fab location (default taiwan)."),
    "fab_ci": typer.Option(None, "--fab-ci-g-per-kwh", help="Fab grid intensity, overrides --fab."),
    "fab_yield": typer.Option(None, "--yield", help="Fab yield (default 0.875)."),
    "max_latency": typer.Option(None, "--max-latency-ms", help="Latency cap (default 50) or 'none'."),
    "max_area": typer.Option(None, "--max-area-mm2", help="Area cap (default 31.99) or 'none'."),
    "max_tops": typer.Option(None, "--max-tops", help="Peak TOPS cap (default 20.48) or 'none'."),
}


def _spec(model: str, prune: str | None):
    from catransformers.models import parse_prune, prune_spec, resolve_model

    spec = resolve_model(model)
    return prune_spec(spec, parse_prune(spec, prune)) if prune else spec


def _fixed_overrides(node, dram, dram_gb, dram_bw_gbps, freq_mhz, precision_bits) -> dict[str, Any]:
    out = {"node_nm": node, "dram_type": dram, "dram_gb": dram_gb, "dram_bw_gbps": dram_bw_gbps,
           "freq_mhz": freq_mhz, "precision_bits": precision_bits}
    return {k: v for k, v in out.items() if v is not None}


def estimate_cmd(
    model: str = _O["model"],
    hw: str = typer.Option(..., "--hw", help="clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2"),
    prune: str | None = _O["prune"],
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (unit-suffixed keys)."),
    node: int | None = typer.Option(None, "--node", help="Technology node in nm (default 22)."),
    dram: str | None = typer.Option(None, "--dram", help="DRAM type (default lpddr3_20nm)."),
    dram_gb: float | None = typer.Option(None, "--dram-gb", help="DRAM capacity (default 1 GB)."),
    dram_bw_gbps: float | None = typer.Option(None, "--dram-bw-gbps", help="DRAM bandwidth (default 12.8)."),
    freq_mhz: float | None = typer.Option(None, "--freq-mhz", help="Clock (default 625 MHz)."),
    precision_bits: int | None = typer.Option(None, "--precision-bits", help="Operand bits (default 8)."),
    batch: int | None = _O["batch"], tokens: int | None = _O["tokens"], image_size: int | None = _O["image_size"],
    prefill_tokens: int | None = _O["prefill_tokens"], decode_tokens: int | None = _O["decode_tokens"],
    dataflow: str | None = _O["dataflow"], double_buffer: bool | None = _O["double_buffer"],
    region: str | None = _O["region"], ci_g_per_kwh: float | None = _O["ci"], ci_csv: str | None = _O["ci_csv"],
    lifetime_years: float | None = _O["lifetime"], inferences_per_s: float | None = _O["rate"],
    hours_per_day: float | None = _O["hours"], total_inferences: float | None = _O["total"],
    idle: bool | None = _O["idle"], idle_power_w: float | None = _O["idle_w"], gpa: int | None = _O["gpa"],
    fab: str | None = _O["fab"], fab_ci_g_per_kwh: float | None = _O["fab_ci"],
    fab_yield: float | None = _O["fab_yield"], max_latency_ms: str | None = _O["max_latency"],
    max_area_mm2: str | None = _O["max_area"], max_tops: str | None = _O["max_tops"],
) -> None:
    """Latency, energy, area and carbon of one model on one accelerator, with a per-component breakdown."""
    from catransformers.cost import estimate_design
    from catransformers.hardware.config import parse_hw

    spec = _spec(model, prune)
    config = parse_hw(hw, None)
    fixed = _fixed_overrides(node, dram, dram_gb, dram_bw_gbps, freq_mhz, precision_bits)
    if fixed:
        config = parse_hw(hw, fixed)
    settings = _settings(
        {}, batch=batch, tokens=tokens, image_size=image_size, prefill_tokens=prefill_tokens,
        decode_tokens=decode_tokens, dataflow=dataflow, double_buffer=double_buffer, region=region,
        ci_g_per_kwh=ci_g_per_kwh, ci_csv=ci_csv, lifetime_years=lifetime_years, inferences_per_s=inferences_per_s,
        hours_per_day=hours_per_day, total_inferences=total_inferences, idle=idle, idle_power_w=idle_power_w,
        gpa=gpa, fab=fab, fab_ci_g_per_kwh=fab_ci_g_per_kwh, fab_yield=fab_yield, max_latency_ms=max_latency_ms,
        max_area_mm2=max_area_mm2, max_tops=max_tops,
    )
    result = estimate_design(spec, config, settings)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _print_estimate(result)


def _console():
    """A rich console; 120 columns when piped (rich would otherwise assume 80 and fold the tables)."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=120)


def _print_estimate(r: dict[str, Any]) -> None:
    from rich.panel import Panel
    from rich.table import Table

    con = _console()
    hw = r["hardware"]
    fmt = lambda k: f"{k}={hw[k]:g}" if isinstance(hw[k], float) else f"{k}={hw[k]}"  # noqa: E731
    keys = list(hw)
    con.print(Panel(f"[bold]{r['model']}[/]\n{', '.join(fmt(k) for k in keys[:6])}\n"
                    f"{', '.join(fmt(k) for k in keys[6:])}\ndataflow: {r['dataflow']}", title="estimate"))
    u = r["usage"]
    con.print(Panel(
        f"[bold]{u['lifetime_years']:g} years x {u['inferences_per_s']:g} inferences/s x {u['hours_per_day']:g} h/day"
        f" = {u['total_inferences']:,.0f} inferences[/], grid {u['use_ci_g_per_kwh']:g} g/kWh ({u['use_ci_source']})"
        f"{', idle power included' if u['include_idle'] else ''}\n"
        "operational carbon scales with these; change them with --lifetime-years, --inferences-per-s, "
        "--hours-per-day, --region / --ci-g-per-kwh", title="usage profile (drives operational carbon)"))
    if r["duty_cycle"] > 1:
        con.print(f"[bold yellow]warning:[/] one inference takes {r['latency_s']:.3g} s, so this usage profile keeps "
                  f"the accelerator busy {r['duty_cycle']:.1f}x its active hours; it cannot serve that rate "
                  "(lower --inferences-per-s or choose faster hardware)")
    perf = Table(title="performance", show_header=False)
    perf.add_column(style="bold")
    perf.add_column(justify="right")
    c = r["constraints"]
    mark = lambda ok: "[green]ok[/]" if ok else "[red]violated[/]"  # noqa: E731
    cap = lambda v, unit="": "no cap" if v is None else f"<= {v:g}{unit}"  # noqa: E731
    lat_cap = cap(c["max_latency_ms"], " ms")
    perf.add_row("latency", f"{r['latency_s'] * 1e3:.3f} ms  ({mark(r['ok_latency'])} {lat_cap})")
    perf.add_row("energy / inference", f"{r['energy_per_inference_j'] * 1e3:.3f} mJ")
    perf.add_row("area", f"{r['area_mm2']:.3f} mm2  ({mark(r['ok_area'])} {cap(c['max_area_mm2'], ' mm2')})")
    perf.add_row("peak TOPS", f"{r['tops']:.3f}  ({mark(r['ok_tops'])} {cap(c['max_tops'])})")
    perf.add_row("dominant bound", f"{r['bound']} ({r['bound_share'] * 100:.0f} % of latency)")
    perf.add_row("MACs / inference", f"{r['macs'] / 1e9:.3f} G")
    perf.add_row("DRAM traffic / inference", f"{r['dram_bytes_per_inference'] / 1e6:.2f} MB")
    perf.add_row("model in DRAM", f"{r['resident_dram_bytes'] / 1e6:.1f} MB of {hw['dram_gb']:g} GB  "
                 f"({mark(r['ok_dram_capacity'])})")
    perf.add_row("leakage power", f"{r['leakage_w'] * 1e3:.2f} mW")
    perf.add_row("feasible", "[green]yes[/]" if r["feasible"] else "[red]no[/]")
    con.print(perf)
    con.print("bounds: compute = array/vector cycles, l2 = GLB->L2 link (l2_bw words/cycle per cluster), "
              "glb = GLB bank ports, dram = DRAM bandwidth", style="dim")
    f = r["fab"]
    carbon = Table(title="carbon over the lifetime",
                   caption=f"die: {f['node_nm']} nm, GPA {f['gpa']}, fab {f['fab_location']}, yield {f['fab_yield']:g} "
                           f"-> {f['die_g_per_cm2']:.1f} g/cm2; DRAM: {f['dram_gb']:g} GB {f['dram_type']}")
    for col in ("part", "kg CO2e", "share"):
        carbon.add_column(col, justify="right" if col != "part" else "left")
    s = r["shares"]
    carbon.add_row("embodied die", f"{r['embodied_die_kg']:.4f}", f"{s['embodied_die'] * 100:.1f} %")
    carbon.add_row("embodied DRAM", f"{r['embodied_dram_kg']:.4f}", f"{s['embodied_dram'] * 100:.1f} %")
    carbon.add_row("operational (lifetime)", f"{r['operational_kg']:.4f}", f"{s['operational'] * 100:.1f} %")
    if r["operational_idle_kg"]:
        carbon.add_row("  of which idle", f"{r['operational_idle_kg']:.4f}", "")
    carbon.add_row("[bold]total[/]", f"[bold]{r['total_carbon_kg']:.4f}[/]", "100 %")
    con.print(carbon)
    parts = Table(title="per-component breakdown (energy includes leakage while busy)")
    for col in ("encoder", "component", "ms", "lat %", "mJ", "en. %", "GMAC", "DRAM MB"):
        parts.add_column(col, justify="left" if col in ("encoder", "component") else "right",
                         no_wrap=col == "component")
    for b in r["breakdown"]:
        parts.add_row(b["encoder"], b["label"], f"{b['latency_s'] * 1e3:.3f}", f"{b['latency_share'] * 100:.1f}",
                      f"{b['energy_j'] * 1e3:.3f}", f"{b['energy_share'] * 100:.1f}", f"{b['macs'] / 1e9:.3f}",
                      f"{b['dram_bytes'] / 1e6:.2f}")
    con.print(parts)


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"--config {path}: file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"--config {path}: not valid TOML ({err})") from None
    allowed = {"hardware", "carbon", "workload", "constraints", "tech", "dataflow", "double_buffered"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise UserError(f"--config {path}: unknown section(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(sorted(allowed))}")
    return data


def sweep_cmd(
    model: str = _O["model"],
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (must be empty unless --force)."),
    prune: str | None = _O["prune"],
    config: Path | None = typer.Option(None, "--config", help="TOML with \\[hardware] lists, \\[carbon], "
                                       "\\[workload], \\[constraints], \\[tech] tables."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty --out."),
    clusters: str | None = typer.Option(None, "--clusters", help="e.g. 1,2,4"),
    width: str | None = typer.Option(None, "--width", help="e.g. 32,64,128,256"),
    depth: str | None = typer.Option(None, "--depth", help="e.g. 2,4,8,16,32,64"),
    l2_kb: str | None = typer.Option(None, "--l2-kb", help="e.g. 64,128,256,512,1024"),
    l2_bw: str | None = typer.Option(None, "--l2-bw", help="e.g. 32,64,128"),
    glb_mb: str | None = typer.Option(None, "--glb-mb", help="e.g. 2,4,8"),
    freq_mhz: str | None = typer.Option(None, "--freq-mhz", help="default 625"),
    precision_bits: str | None = typer.Option(None, "--precision-bits", help="default 8"),
    node: str | None = typer.Option(None, "--node", help="nm, default 22"),
    dram: str | None = typer.Option(None, "--dram", help="default lpddr3_20nm"),
    dram_gb: str | None = typer.Option(None, "--dram-gb", help="default 1"),
    dram_bw_gbps: str | None = typer.Option(None, "--dram-bw-gbps", help="default 12.8"),
    batch: int | None = _O["batch"], tokens: int | None = _O["tokens"], image_size: int | None = _O["image_size"],
    prefill_tokens: int | None = _O["prefill_tokens"], decode_tokens: int | None = _O["decode_tokens"],
    dataflow: str | None = _O["dataflow"], double_buffer: bool | None = _O["double_buffer"],
    region: str | None = _O["region"], ci_g_per_kwh: float | None = _O["ci"], ci_csv: str | None = _O["ci_csv"],
    lifetime_years: float | None = _O["lifetime"], inferences_per_s: float | None = _O["rate"],
    hours_per_day: float | None = _O["hours"], total_inferences: float | None = _O["total"],
    idle: bool | None = _O["idle"], idle_power_w: float | None = _O["idle_w"], gpa: int | None = _O["gpa"],
    fab: str | None = _O["fab"], fab_ci_g_per_kwh: float | None = _O["fab_ci"],
    fab_yield: float | None = _O["fab_yield"], max_latency_ms: str | None = _O["max_latency"],
    max_area_mm2: str | None = _O["max_area"], max_tops: str | None = _O["max_tops"],
) -> None:
    """Evaluate every config of a hardware space (default: the paper's 3,240 points) for one model."""
    from catransformers.hardware.config import HardwareSpace, parse_list

    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"--out {out} exists and is not empty; choose another folder or pass --force")
    spec = _spec(model, prune)
    base = _read_config(config)
    space_kw: dict[str, Any] = {}
    for key, raw in (base.get("hardware") or {}).items():
        if key not in _HW_LIST_KEYS:
            raise UserError(f"--config [hardware]: unknown key '{key}'; allowed: {', '.join(_HW_LIST_KEYS)}")
        space_kw[key] = raw if isinstance(raw, list) else [raw]
    flags = {"clusters": clusters, "width": width, "depth": depth, "l2_kb": l2_kb, "l2_bw": l2_bw, "glb_mb": glb_mb,
             "freq_mhz": freq_mhz, "precision_bits": precision_bits, "node_nm": node, "dram_type": dram,
             "dram_gb": dram_gb, "dram_bw_gbps": dram_bw_gbps}
    for key, raw in flags.items():
        if raw is not None:
            space_kw[key] = parse_list(key, raw)
    space = HardwareSpace(**space_kw)
    settings = _settings(
        base, batch=batch, tokens=tokens, image_size=image_size, prefill_tokens=prefill_tokens,
        decode_tokens=decode_tokens, dataflow=dataflow, double_buffer=double_buffer, region=region,
        ci_g_per_kwh=ci_g_per_kwh, ci_csv=ci_csv, lifetime_years=lifetime_years, inferences_per_s=inferences_per_s,
        hours_per_day=hours_per_day, total_inferences=total_inferences, idle=idle, idle_power_w=idle_power_w,
        gpa=gpa, fab=fab, fab_ci_g_per_kwh=fab_ci_g_per_kwh, fab_yield=fab_yield, max_latency_ms=max_latency_ms,
        max_area_mm2=max_area_mm2, max_tops=max_tops,
    )
    run_sweep(spec, space, settings, out)


def run_sweep(spec: Any, space: Any, settings: Any, out: Path) -> dict[str, Any]:
    """Evaluate `space`, write designs.csv/.parquet, pareto.csv, pareto.png, summary.json; print the best designs."""
    import time

    from catransformers.cost import evaluate_designs
    from catransformers.report.pareto import pareto_mask

    t0 = time.perf_counter()
    df = evaluate_designs(spec, space, settings)
    eval_s = time.perf_counter() - t0
    df.insert(0, "model", spec.id)
    df["latency_ms"] = df["latency_s"] * 1e3
    feas = df[df["feasible"]]
    objectives = feas[["total_carbon_kg", "latency_s"]].to_numpy(float)
    front = feas[pareto_mask(objectives, [False, False], keep_duplicates=False)]
    front = front.sort_values("latency_s")
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "designs.csv", index=False)
    df.to_parquet(out / "designs.parquet", index=False)
    front.to_csv(out / "pareto.csv", index=False)
    _plot(df, front, out / "pareto.png", spec.id, settings)
    cs = settings.carbon
    best = {}
    if len(feas):
        for name, col in (("min_carbon", "total_carbon_kg"), ("min_latency", "latency_s"),
                          ("min_energy", "energy_per_inference_j")):
            # ties (e.g. many configs at the same DRAM-bound latency) go to the lowest total carbon
            ranked = feas.assign(_key=feas[col].round(12)).sort_values(["_key", "total_carbon_kg"], kind="stable")
            best[name] = _row_summary(ranked.iloc[0])
    summary = {
        "model": spec.id, "configs": len(df), "feasible": len(feas), "pareto": len(front),
        "evaluate_s": eval_s, "dataflow": settings.dataflow_text(),
        "constraints": {"max_tops": settings.max_tops, "max_area_mm2": settings.max_area_mm2,
                        "max_latency_ms": settings.max_latency_ms},
        "usage": {"lifetime_years": cs.lifetime_years, "inferences_per_s": cs.inferences_per_s,
                  "hours_per_day": cs.hours_per_day, "total_inferences": cs.inferences(),
                  "use_ci_g_per_kwh": cs.use_ci_g_per_kwh()},
        "best": best,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _print_sweep(summary, out)
    return summary


_SUMMARY_KEYS = ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb", "latency_s", "energy_per_inference_j",
                 "area_mm2", "tops", "embodied_kg", "operational_kg", "total_carbon_kg", "bound")


def _row_summary(row: Any) -> dict[str, Any]:
    out = {}
    for k in _SUMMARY_KEYS:
        v = row[k]
        out[k] = v.item() if hasattr(v, "item") else v
    return out


def _plot(df: Any, front: Any, path: Path, model_id: str, settings: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    infeas = df[~df["feasible"]]
    feas = df[df["feasible"]]
    ax.scatter(infeas["latency_s"] * 1e3, infeas["total_carbon_kg"], s=6, c="0.75", label="infeasible")
    ax.scatter(feas["latency_s"] * 1e3, feas["total_carbon_kg"], s=8, c="tab:blue", label="feasible")
    if len(front):
        ax.plot(front["latency_s"] * 1e3, front["total_carbon_kg"], "-o", c="tab:red", ms=4, label="Pareto front")
    if settings.max_latency_ms is not None:
        ax.axvline(settings.max_latency_ms, ls="--", c="0.4", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("latency per inference (ms)")
    ax.set_ylabel("total carbon (kg CO2e)")
    ax.set_title(f"{model_id}: {len(df)} configs, {len(feas)} feasible")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _print_sweep(summary: dict[str, Any], out: Path) -> None:
    from rich.table import Table

    con = _console()
    u = summary["usage"]
    con.print(f"[bold]{summary['model']}[/]: {summary['configs']} configs, {summary['feasible']} feasible, "
              f"{summary['pareto']} on the carbon-latency front ({summary['dataflow']}; evaluated in "
              f"{summary['evaluate_s']:.2f} s)")
    con.print(f"usage: {u['lifetime_years']:g} y x {u['inferences_per_s']:g}/s x {u['hours_per_day']:g} h/day = "
              f"{u['total_inferences']:,.0f} inferences at {u['use_ci_g_per_kwh']:g} g/kWh")
    if not summary["best"]:
        c = summary["constraints"]
        con.print(f"[red]no feasible design[/] under TOPS <= {c['max_tops']}, area <= {c['max_area_mm2']} mm2, "
                  f"latency <= {c['max_latency_ms']} ms; relax one (e.g. --max-latency-ms none)")
    else:
        table = Table(title="best feasible designs (clusters x width x depth, L2 KB @ words/cycle, GLB MB)")
        for col in ("objective", "design", "ms", "mJ", "mm2", "kg CO2e", "bound"):
            table.add_column(col, justify="left" if col in ("objective", "design") else "right", no_wrap=True)
        for name, b in summary["best"].items():
            design = (f"{b['clusters']}x{b['width']}x{b['depth']}, L2 {b['l2_kb']:g}@{b['l2_bw']:g}, "
                      f"GLB {b['glb_mb']:g}")
            table.add_row(name.replace("_", " "), design, f"{b['latency_s'] * 1e3:.2f}",
                          f"{b['energy_per_inference_j'] * 1e3:.2f}", f"{b['area_mm2']:.2f}",
                          f"{b['total_carbon_kg']:.4f}", b["bound"])
        con.print(table)
    con.print(f"wrote {out}/designs.csv, designs.parquet, pareto.csv, pareto.png, summary.json")


def register(app: typer.Typer) -> None:
    """Add `estimate` and `sweep`."""
    app.command("estimate")(estimate_cmd)
    app.command("sweep")(sweep_cmd)
