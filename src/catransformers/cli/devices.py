"""`catransformers devices [--json]`: the catalogue of devices one can buy, with embodied carbon and sources.

The table fits 80 columns: '~' marks an estimate (range and method in --json and in the device's TOML); the src
column numbers the sources listed under the table.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import typer


def _cell(fig: Any, fmt: str) -> str:
    if fig is None:
        return "-"
    text = format(fig.value, fmt)
    return ("~" + text) if getattr(fig, "estimate", False) else text


def _rows(folder: str | None) -> list[dict[str, Any]]:
    from catransformers.carbon.model import CarbonSettings
    from catransformers.devices.catalogue import load_catalogue
    from catransformers.devices.efficiency import efficiency_for
    from catransformers.devices.embodied import device_embodied
    from catransformers.devices.evaluate import figures_with_sources

    carbon = CarbonSettings()
    out = []
    for dev in load_catalogue(folder).values():
        emb = device_embodied(dev, carbon)
        eff = efficiency_for(dev.device_class, dev.efficiency)
        out.append({
            "dev": dev, "id": dev.id, "name": dev.name, "vendor": dev.vendor, "class": dev.device_class,
            "deployment": dev.deployment, "form": dev.form, "memory_kind": dev.memory_kind,
            "embodied": {"chip_kg": emb.chip_kg, "memory_kg": emb.memory_kg, "board_kg": emb.board_kg,
                         "total_kg": emb.total_kg, "method": emb.method},
            "efficiency": {"compute": eff.compute, "memory": eff.memory, "launch_us": eff.launch_us,
                           "fitted": eff.fitted, "note": eff.note},
            "figures": figures_with_sources(dev),
        })
    return out


def list_devices(
    as_json: bool = typer.Option(False, "--json", help="Every figure with its source or estimate range."),
    devices_dir: str | None = typer.Option(None, "--devices-dir",
                                           help="Extra device TOMLs (default: $CATRANSFORMERS_DEVICES)."),
) -> None:
    """List the devices one can buy: peak int8/fp16, memory, TDP, embodied carbon, sources."""
    rows = _rows(devices_dir)
    if as_json:
        typer.echo(json.dumps([{k: v for k, v in r.items() if k != "dev"} for r in rows], indent=2))
        return
    sources: list[str] = []
    lines = [f"{'id':27s}   {'int8':>6s} {'fp16':>6s} {'mem':>4s} {'mem':>5s} {'TDP':>4s} {'embod':>6s} src",
             f"{'':27s}   {'TOPS':>6s} {'TFLOPS':>6s} {'GB':>4s} {'GB/s':>5s} {'W':>4s} {'kg':>6s}"]
    for r in rows:
        dev = r["dev"]
        nums = []
        for src in dev.sources.values():
            cite = f"{src.title} ({src.publisher}, {src.year})"
            if cite not in sources:
                sources.append(cite)
            nums.append(str(sources.index(cite) + 1))
        kind = "E" if dev.deployment == "edge" else "D"
        total = r["embodied"]["total_kg"]
        emb = f"{total:.0f}" if total >= 10 else f"{total:.1f}"
        lines.append(f"{dev.id[:27]:27s} {kind} {_cell(dev.int8_tops, '.4g'):>6s} {_cell(dev.fp16_tflops, '.4g'):>6s} "
                     f"{dev.memory_gb.value:4.0f} {_cell(dev.memory_bw_gbps, '.4g'):>5s} {dev.tdp_w.value:4.0f} "
                     f"{emb:>6s} {','.join(nums)}")
    lines.append("E: edge (dedicated), D: datacenter (shared); ~ estimate. Embodied: product")
    lines.append("footprint or component model at the default fab settings. Ranges, methods and")
    lines.append("URLs: --json or the TOML files.")
    lines.append("Sources:")
    for i, cite in enumerate(sources, 1):
        lines += textwrap.wrap(f"[{i}] {cite}", width=80, subsequent_indent="    ", break_on_hyphens=False)
    typer.echo("\n".join(lines))


def render_estimate(out: dict[str, Any]) -> str:
    """Readable lines (80 columns) for `estimate --device`, from `estimate_on_device`'s dict."""
    dev, usage = out["device"], out["usage"]
    lat_ms = out["latency_s"] * 1e3
    lines = [
        f"{out['model']} on {dev['id']}, {out['precision']}, batch {out['batch']}",
        f"  device         {dev['name']} ({dev['class']}, {dev['deployment']})",
        f"  latency        {lat_ms:10.3f} ms per batch ({out['throughput_per_s']:.1f} inferences/s), "
        f"{out['bound']}-bound",
        f"  energy         {out['energy_per_inference_j']:10.4f} J per inference at {out['power_w']:.1f} W mean",
        f"  memory         {out['resident_bytes'] / 1024**3:10.2f} GB resident of {out['memory_gb']:g} GB",
        f"  embodied       {out['embodied_kg']:10.4f} kg CO2e charged: {out['allocation']}, share "
        f"{out['allocation_share']:.3g}",
        f"                 of {out['embodied_device_kg']:.1f} kg ({out['embodied_method']})",
        f"  operational    {out['operational_kg']:10.4f} kg CO2e: {usage['total_inferences']:.3g} inferences, "
        f"{usage['use_ci_g_per_kwh']:g} g/kWh, PUE {out['pue']:g}",
        f"  total          {out['total_carbon_kg']:10.4f} kg CO2e",
        f"  duty cycle     {out['duty_cycle']:10.3g}",
        f"  feasible       {out['feasible']} (latency {'ok' if out['ok_latency'] else 'over cap'}, memory "
        f"{'ok' if out['ok_dram_capacity'] else 'too small'}, rate {'ok' if out['ok_duty_cycle'] else 'too high'})",
    ]
    if out.get("reuse"):
        lines.append("  reuse: the device is already owned, its embodied carbon is sunk (not charged)")
    eff = out["efficiency"]
    lines.append(f"  efficiency     compute {eff['compute']:.3g}, memory {eff['memory']:.3g}, launch "
                 f"{eff['launch_us']:g} us")
    lines.append(f"                 {eff['note']}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("devices")(list_devices)
