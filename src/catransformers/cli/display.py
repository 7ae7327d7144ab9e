"""Terminal output of `estimate` and `sweep`: rich tables that fit an 80-column terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from catransformers.report.tables import describe_hardware, describe_memory


def console() -> Console:
    """A rich console: the terminal's width, or 80 columns when piped (every table here fits 80)."""
    return Console() if sys.stdout.isatty() else Console(width=80)


def plural(n: float, word: str) -> str:
    """'1 inference', '2 inferences', '0.5 inferences' (only exactly one is singular)."""
    return f"{n:g} {word}" if n == 1 else f"{n:g} {word}s"


def _mark(ok: bool) -> str:
    return "[green]ok[/]" if ok else "[red]violated[/]"


def _cap(value: float | None, unit: str = "") -> str:
    return "no cap" if value is None else f"<= {value:g}{unit}"


def print_estimate(r: dict[str, Any]) -> None:
    con = console()
    hw = r["hardware"]
    fmt = lambda k: f"{k}={hw[k]:g}" if isinstance(hw[k], float) else f"{k}={hw[k]}"  # noqa: E731
    keys = list(hw)
    con.print(Panel(f"[bold]{r['model']}[/]\n{', '.join(fmt(k) for k in keys[:6])}\n"
                    f"{', '.join(fmt(k) for k in keys[6:])}\ndataflow: {r['dataflow']}; profile: {r['profile']}",
                    title="estimate"))
    u = r["usage"]
    count = (f"{u['total_inferences']:,.0f} inferences (given; {u['lifetime_years']:g} years)" if u.get("count_given")
             else f"{u['lifetime_years']:g} years x {plural(u['inferences_per_s'], 'inference')}/s x "
                  f"{u['hours_per_day']:g} h/day = {u['total_inferences']:,.0f} inferences")
    con.print(Panel(
        f"[bold]{count}[/], grid {u['use_ci_g_per_kwh']:g} g/kWh ({u['use_ci_source']})"
        f"{', idle power included' if u['include_idle'] else ''}\n"
        "change with --lifetime-years, --inferences-per-s, --hours-per-day, --region / --ci-g-per-kwh",
        title="usage profile (drives operational carbon)"))
    if r["duty_cycle"] > 1:
        con.print(f"[bold yellow]warning:[/] one inference takes {r['latency_s']:.3g} s, so this usage keeps the "
                  f"accelerator busy {r['duty_cycle']:.1f}x its active hours: it cannot serve that rate (lower "
                  "--inferences-per-s or choose faster hardware)")
    c = r["constraints"]
    perf = Table(title="performance", show_header=False)
    perf.add_column(style="bold")
    perf.add_column(justify="right")
    perf.add_row("latency", f"{r['latency_s'] * 1e3:.3f} ms  ({_mark(r['ok_latency'])} "
                 f"{_cap(c['max_latency_ms'], ' ms')})")
    perf.add_row("energy / inference", f"{r['energy_per_inference_j'] * 1e3:.3f} mJ")
    perf.add_row("area", f"{r['area_mm2']:.3f} mm2  ({_mark(r['ok_area'])} {_cap(c['max_area_mm2'], ' mm2')})")
    perf.add_row("peak TOPS", f"{r['tops']:.3f}  ({_mark(r['ok_tops'])} {_cap(c['max_tops'])})")
    perf.add_row("duty cycle", f"{r['duty_cycle']:.3g}  ({_mark(r['ok_duty_cycle'])} <= 1"
                 + ("" if c.get("check_duty_cycle", True) else ", not enforced") + ")")
    perf.add_row("dominant bound", f"{r['bound']} ({r['bound_share'] * 100:.0f} % of latency)")
    perf.add_row("MACs / inference", f"{r['macs'] / 1e9:.3f} G")
    perf.add_row("DRAM traffic / inference", f"{r['dram_bytes_per_inference'] / 1e6:.2f} MB")
    perf.add_row("model in DRAM", f"{r['resident_dram_bytes'] / 1e6:.1f} MB of {hw['dram_gb']:g} GB  "
                 f"({_mark(r['ok_dram_capacity'])})")
    perf.add_row("leakage power", f"{r['leakage_w'] * 1e3:.2f} mW")
    perf.add_row("feasible", "[green]yes[/]" if r["feasible"] else "[red]no[/]")
    con.print(perf)
    con.print("bounds: compute = array/vector cycles, l2 = GLB->L2 link (l2_bw words/cycle per cluster), "
              "glb = GLB bank ports, dram = DRAM bandwidth", style="dim")
    if r.get("energy_breakdown_j"):
        energy = Table(title="energy per inference by component")
        for col in ("component", "mJ", "share"):
            energy.add_column(col, justify="left" if col == "component" else "right")
        total = r["energy_per_inference_j"] or 1.0
        for part, joules in r["energy_breakdown_j"].items():
            energy.add_row(part.replace("_", " "), f"{joules * 1e3:.4f}", f"{joules / total * 100:.1f} %")
        con.print(energy)
    if r.get("uncertainty"):
        print_bands(con, r["uncertainty"])
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
    if u.get("fleet_size", 1) > 1:
        carbon.add_row(f"fleet of {u['fleet_size']:,}", f"{u['fleet_total_carbon_kg']:,.1f}", "")
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


_BAND_ROWS = (("total_carbon_kg", "total carbon", "kg", 1.0), ("operational_kg", "operational", "kg", 1.0),
              ("embodied_kg", "embodied", "kg", 1.0), ("energy_per_inference_j", "energy / inference", "mJ", 1e3),
              ("latency_s", "latency", "ms", 1e3))


def print_bands(con: Console, u: dict[str, Any]) -> None:
    """P5 / P50 / P95 of one design under the uncertainty table."""
    table = Table(title=f"uncertainty: {u['samples']} joint samples (seed {u['seed']})", caption=u.get("latency"),
                  caption_justify="left")
    for col in ("", "nominal", "P5", "P50", "P95"):
        table.add_column(col, justify="left" if not col else "right")
    for key, label, unit, scale in _BAND_ROWS:
        if key in u:
            b = u[key]
            table.add_row(f"{label} ({unit})", *(f"{b[k] * scale:.4g}" for k in ("nominal", "p05", "p50", "p95")))
    con.print(table)


def print_sweep(summary: dict[str, Any], out: Path, files: tuple[str, ...]) -> None:
    con = console()
    u = summary["usage"]
    con.print(f"[bold]{summary['model']}[/]: {summary['configs']:,} configs, {summary['feasible']:,} feasible, "
              f"{summary['pareto']} on the carbon-latency front ({summary['dataflow']}; profile {summary['profile']}; "
              f"evaluated in {summary['evaluate_s']:.2f} s)")
    count = (f"{u['total_inferences']:,.0f} inferences (given)" if u.get("count_given") else
             f"{u['lifetime_years']:g} y x {u['inferences_per_s']:g}/s x {u['hours_per_day']:g} h/day = "
             f"{u['total_inferences']:,.0f} inferences")
    con.print(f"usage: {count} at {u['use_ci_g_per_kwh']:g} g/kWh")
    if not summary["best"]:
        c = summary["constraints"]
        failing = ", ".join(f"{k} ({n:,})" for k, n in summary["infeasible_by"].items() if n)
        con.print(f"[red]no feasible design[/] under TOPS {_cap(c['max_tops'])}, area {_cap(c['max_area_mm2'])} mm2, "
                  f"latency {_cap(c['max_latency_ms'])} ms, duty cycle <= 1; configs failing each: {failing}; relax "
                  "one (e.g. --max-latency-ms none)")
    else:
        table = Table(title="best feasible designs", box=box.SIMPLE_HEAD, pad_edge=False, caption_justify="left",
                      caption="hardware: clusters x width x depth, L2 KB / words per cycle, GLB MB; carbon in kg "
                      "CO2e; area, bound and the rest in summary.json")
        for col in ("min", "hardware", "memory", "ms", "mJ", "kg"):
            table.add_column(col, justify="left" if col in ("min", "hardware", "memory") else "right",
                             no_wrap=True)
        for name, b in summary["best"].items():
            table.add_row(name.removeprefix("min_"), describe_hardware(b, compact=True), describe_memory(b),
                          f"{b['latency_s'] * 1e3:.3g}", f"{b['energy_per_inference_j'] * 1e3:.3g}",
                          f"{b['total_carbon_kg']:.4g}")
        con.print(table)
    unc = summary.get("uncertainty")
    if unc:
        best = sorted(unc["front"], key=lambda d: -d["prob_min_carbon"])[:3]
        odds = "; ".join(f"{d['hardware']} {d['prob_min_carbon'] * 100:.0f} %" for d in best)
        con.print(f"uncertainty ({unc['samples']} samples): P(min carbon) {odds}; the nominal min-carbon design "
                  f"stays the minimum in {unc['prob_nominal_min_is_min'] * 100:.0f} % of samples; front rank "
                  f"stability {unc['rank_stability']:.3f} (Spearman)")
    con.print(f"wrote {out}/: " + ", ".join(files))
