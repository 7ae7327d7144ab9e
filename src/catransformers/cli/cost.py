"""`catransformers estimate` (one design, readable breakdown or --json) and `sweep` (a whole hardware space).

Both take their options from the one flag table (`catransformers.settings`), resolve them through the same
profile < config < flags path as the search, and hand the cost stage a validated `CostSettings`. Imports of
numpy/pandas/matplotlib happen inside the commands, and nothing here imports torch, transformers or ax.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from catransformers.errors import UserError
from catransformers.settings import (
    COST_SECTIONS,
    DEVICE_FLAGS,
    FLAGS,
    HARDWARE_FLAGS,
    TEMPLATE_FLAG_NAMES,
    cost_settings,
    flag_name,
    resolve,
    unknown_key,
    with_flags,
)

# A sweep is evaluated in memory: ~2 KB per design in the designs table.
MAX_SWEEP_POINTS = 1_000_000
SWEEP_FILES = ("designs.csv", "designs.parquet", "pareto.csv", "pareto.png", "summary.json")
_FIXED_FLAGS = tuple(f for f in HARDWARE_FLAGS if f.name not in (*TEMPLATE_FLAG_NAMES, "memory"))


def _spec(model: str, prune: str | None):
    from catransformers.models import parse_prune, prune_spec, resolve_model

    spec = resolve_model(model)
    return prune_spec(spec, parse_prune(spec, prune)) if prune else spec


def _split_hardware(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(non-hardware overrides, hardware key -> raw flag text)."""
    hw = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("hardware.")}
    return {k: v for k, v in overrides.items() if not k.startswith("hardware.")}, hw


@with_flags(FLAGS + _FIXED_FLAGS + DEVICE_FLAGS)
def estimate_cmd(
    model: str = typer.Option(..., "--model", "-m", help="Registry id or path to a Hugging Face config.json."),
    hw: str | None = typer.Option(None, "--hw", help="clusters=1,width=256,depth=8,l2_kb=64,l2_bw=128,glb_mb=2"),
    device: str | None = typer.Option(None, "--device", help="a bought device instead of --hw (`catransformers "
                                      "devices` lists them)"),
    prune: str | None = typer.Option(None, "--prune", help="Pruning, e.g. text.layers=6,vision.ffn_blocks=5 (CLIP)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (unit-suffixed keys)."),
    uncertainty: int | None = typer.Option(None, "--uncertainty", help="joint samples of the uncertain figures "
                                           "(uncertainty/distributions.toml): P5/P50/P95 of carbon and energy"),
    seed: int = typer.Option(0, "--seed", help="seed of the uncertainty samples"),
    overrides: dict[str, Any] | None = None,
) -> None:
    """Latency, energy, area and carbon of one model on one accelerator (or bought device), with breakdowns."""
    from catransformers.hardware.config import number_of, parse_hw

    rest, hw_flags = _split_hardware(overrides or {})
    device_keys = sorted(k for k in rest if k.startswith("device."))
    if (hw is None) == (device is None):
        raise UserError("estimate: give either --hw (the accelerator template) or --device (a bought device)")
    if device is None and device_keys:
        raise UserError(f"estimate: {flag_name(device_keys[0])} applies to --device only")
    if device is not None and hw_flags:
        first = flag_name("hardware." + next(iter(hw_flags)))
        raise UserError(f"estimate --device: {first} is a template setting; drop it")
    fixed = {k: number_of(k, raw, flag_name("hardware." + k)) for k, raw in hw_flags.items()}
    device_opts = {k.split(".", 1)[1]: rest.pop(k) for k in device_keys}
    sections = resolve(None, rest | {f"hardware.{k}": v for k, v in fixed.items()}, where="estimate")
    settings = cost_settings(sections, where="estimate")
    spec = _spec(model, prune)
    if device is not None:
        _estimate_device(spec, device, settings, device_opts, as_json, uncertainty, seed)
        return
    from catransformers.cost import estimate_design

    config = parse_hw(hw, sections.get("hardware") or {}, given_elsewhere=set(fixed))
    result = estimate_design(spec, config, settings)
    if not config.has_dram and not result["ok_dram_capacity"] and settings.constraints.check_dram_capacity:
        raise UserError(f"{spec.id} does not fit on chip: {result['resident_dram_bytes'] / 1e6:.1f} MB of weights "
                        f"(+ activations) against a {config.glb_mb:g} MB global buffer; raise glb_mb or give a DRAM "
                        "(--dram lpddr4 --dram-gb 0.25)")
    if uncertainty is not None:
        from catransformers.uncertainty.propagate import bands, evaluate_uncertain

        result["uncertainty"] = bands(evaluate_uncertain(spec, config, settings, uncertainty, seed), 0)
    if as_json:
        typer.echo(json.dumps(result, indent=2, allow_nan=False))
        return
    from catransformers.cli.display import print_estimate

    print_estimate(result)


def _estimate_device(spec: Any, device: str, settings: Any, options: dict[str, Any], as_json: bool,
                     uncertainty: int | None = None, seed: int = 0) -> None:
    from catransformers.cli.devices import render_estimate
    from catransformers.devices.evaluate import estimate_on_device

    ds = _device_settings(settings, options, None, "estimate --device")
    out = estimate_on_device(spec, device, ds)
    if uncertainty is not None:
        from catransformers.uncertainty.devices import evaluate_devices_uncertain
        from catransformers.uncertainty.propagate import bands

        unc = evaluate_devices_uncertain(spec, [device], ds, uncertainty, seed, skip_unsupported=False)
        out["uncertainty"] = bands(unc, 0)
    if as_json:
        typer.echo(json.dumps(out, indent=2, allow_nan=False, default=str))
        return
    typer.echo(render_estimate(out))
    if uncertainty is not None:
        from catransformers.cli.display import console, print_bands

        print_bands(console(), out["uncertainty"])


def read_sweep_config(path: Path | None) -> dict[str, Any]:
    """An experiment config (or the cost sections of one) for a sweep; sections that do not apply are ignored."""
    if path is None:
        return {}
    from catransformers.search.config import EXPERIMENT_SECTIONS, read_config_file

    data, label = read_config_file(str(path))
    for legacy in ("dataflow", "double_buffered"):  # older sweep configs held these at the top level
        if legacy in data:
            data.setdefault("cost", {})[legacy] = data.pop(legacy)
    for name, value in data.items():
        if name not in EXPERIMENT_SECTIONS:
            raise unknown_key(name, list(EXPERIMENT_SECTIONS), label)
        if not isinstance(value, dict):
            raise UserError(f"{label}: [{name}] must be a table of settings, not {type(value).__name__} {value!r}")
    return {k: v for k, v in data.items() if k in (*COST_SECTIONS, "model")}


def _space(sections: dict[str, Any], label: str) -> Any:
    from catransformers.hardware.config import HW_KEYS, HardwareSpace

    raw = dict(sections.get("hardware") or {})
    raw.pop("fixed", None)  # the model-only mode's accelerator: not a space
    for key, value in raw.items():
        if key not in (*HW_KEYS, "memory"):
            raise unknown_key(f"hardware.{key}", [f"hardware.{k}" for k in (*HW_KEYS, "memory")], label)
        raw[key] = value if isinstance(value, list) else [value]
    space = HardwareSpace(**raw)
    if len(space) > MAX_SWEEP_POINTS:
        raise UserError(f"the hardware space has {len(space):,} points, more than a sweep holds in memory "
                        f"({MAX_SWEEP_POINTS:,}); give fewer values per parameter")
    return space


@with_flags(FLAGS + HARDWARE_FLAGS + DEVICE_FLAGS)
def sweep_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (must be empty unless --force)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Registry id or config.json path (default: the "
                                     "config's [model] id)."),
    prune: str | None = typer.Option(None, "--prune", help="Pruning, e.g. text.layers=6,vision.ffn_blocks=5 (CLIP)."),
    config: Path | None = typer.Option(None, "--config", help="An experiment TOML: its \\[hardware] lists, "
                                       "\\[carbon], \\[workload], \\[constraints], \\[tech], \\[cost] and \\[model]."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty --out."),
    devices: str | None = typer.Option(None, "--devices", help="bought devices instead of the template: 'all' or "
                                       "ids (`catransformers devices`); with --template both, side by side"),
    batches: str | None = typer.Option(None, "--batches", help="--devices: batch sizes, e.g. 1,8,32 (default: "
                                       "--batch)"),
    template: bool = typer.Option(False, "--template", help="--devices: also sweep the accelerator template"),
    uncertainty: int | None = typer.Option(None, "--uncertainty", help="joint samples of the uncertain figures: "
                                           "P5/P50/P95 per design and P(min carbon) per front design"),
    seed: int = typer.Option(0, "--seed", help="seed of the uncertainty samples"),
    overrides: dict[str, Any] | None = None,
) -> None:
    """Evaluate every config of a hardware space (default: the paper's 3,240 points) for one model."""
    from catransformers.fileio import check_output_dir
    from catransformers.hardware.config import parse_list, split_names

    file_cfg = read_sweep_config(config)
    label = str(config) if config else "sweep"
    model_cfg = file_cfg.pop("model", {}) or {}
    model = model or model_cfg.get("id")
    if not model:
        raise UserError("sweep: give --model (or a --config with [model] id)")
    prune = prune if prune is not None else (model_cfg.get("prune") or None)
    rest, hw_flags = _split_hardware(overrides or {})
    device_opts = {k.split(".", 1)[1]: rest.pop(k) for k in sorted(rest) if k.startswith("device.")}
    if devices is None and (device_opts or batches or template):
        raise UserError("sweep: --batches, --template and the device options apply with --devices only")
    lists = {f"hardware.{k}": parse_list(k, raw, flag_name("hardware." + k)) for k, raw in hw_flags.items()
             if k != "memory"}
    if "memory" in hw_flags:
        lists["hardware.memory"] = split_names(hw_flags["memory"])
    sections = resolve(file_cfg, rest | lists, where=label, list_hardware=True)
    settings = cost_settings(sections, where=label)
    space = _space(sections, label)
    spec = _spec(model, prune)
    device_settings = None
    if devices is not None:
        device_settings = _device_settings(settings, device_opts, batches)
    if uncertainty is not None:
        from catransformers.uncertainty.propagate import check_samples

        # N <= 0 or too many samples: refused before any work (devices x batches are a few dozen designs)
        check_samples(uncertainty, len(space) if devices is None or template else 1)
    check_output_dir(out, force=force, files=SWEEP_FILES)
    if devices is not None:
        run_device_sweep(spec, space if template else None, devices, device_settings, settings, out, uncertainty,
                         seed)
    else:
        run_sweep(spec, space, settings, out, uncertainty, seed)


def _device_settings(settings: Any, options: dict[str, Any], batches: str | None,
                     where: str = "sweep --devices") -> Any:
    """DeviceSettings from the resolved cost settings and the device flags; a bad value is a one-line UserError."""
    from pydantic import ValidationError

    from catransformers.devices.evaluate import DeviceSettings
    from catransformers.strict import one_line

    if batches is not None:
        try:
            options["batches"] = tuple(int(b) for b in batches.split(",") if b.strip())
        except ValueError:
            raise UserError(f"--batches {batches}: give whole numbers, e.g. 1,8,32") from None
    try:
        return DeviceSettings(workload=settings.workload, carbon=settings.carbon, constraints=settings.constraints,
                              **options)
    except ValidationError as err:
        raise UserError(one_line(err, where)) from None


def run_device_sweep(spec: Any, space: Any, devices: str, device_settings: Any, settings: Any,
                     out: Path, uncertainty: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Bought devices x batch sizes (and the template space when given) as one designs table, same outputs.

    With `uncertainty` N the template's and the devices' samples share the table's common draws (one assumption
    of grid, yield and lifetime per sample), so P(min carbon) compares them fairly.
    """
    import time

    import pandas as pd

    from catransformers.cost import evaluate_designs, summarize_designs
    from catransformers.devices.evaluate import evaluate_devices
    from catransformers.hardware.config import split_names

    t0 = time.perf_counter()
    names = "all" if devices.strip().lower() == "all" else split_names(devices)
    table = evaluate_devices(spec, names, device_settings).assign(hardware_kind="device")
    template = None
    if space is not None:
        template = evaluate_designs(spec, space, settings).assign(hardware_kind="template")
        table = pd.concat([template, table], ignore_index=True, sort=False)
    table.insert(0, "model", spec.id)
    result = summarize_designs(table, time.perf_counter() - t0)
    bands_summary = None
    if uncertainty is not None:
        from catransformers.uncertainty.devices import evaluate_devices_uncertain
        from catransformers.uncertainty.propagate import combine, evaluate_uncertain

        parts = [] if template is None else [evaluate_uncertain(spec, template, settings, uncertainty, seed,
                                                                nominal=template)]
        parts.append(evaluate_devices_uncertain(spec, names, device_settings, uncertainty, seed))
        bands_summary = _attach_uncertainty(result, combine(parts))
    return _write_sweep(spec, settings, result, out, bands_summary)


def run_sweep(spec: Any, space: Any, settings: Any, out: Path, uncertainty: int | None = None,
              seed: int = 0) -> dict[str, Any]:
    """Evaluate `space` (cost stage), write designs.csv/.parquet, pareto.csv/.png, summary.json; print the best.

    With `uncertainty` N, every design also gets P5/P50/P95 columns and summary.json the probability that each
    front design is the minimum-carbon one (catransformers.uncertainty.propagate).
    """
    from catransformers.cost import sweep_designs

    result = sweep_designs(spec, space, settings)
    bands_summary = None
    if uncertainty is not None:
        from catransformers.uncertainty.propagate import evaluate_uncertain

        unc = evaluate_uncertain(spec, result.designs, settings, uncertainty, seed, nominal=result.designs)
        bands_summary = _attach_uncertainty(result, unc)
    return _write_sweep(spec, settings, result, out, bands_summary)


def _attach_uncertainty(result: Any, unc: Any) -> dict[str, Any]:
    """P5/P50/P95 columns on the sweep's designs and front; the front's summary (P(min carbon), rank stability)."""
    from catransformers.report.tables import describe_hardware, with_memory
    from catransformers.uncertainty.propagate import summary, uncertainty_columns

    bands_summary = summary(unc, result.front.index)
    result.designs = uncertainty_columns(result.designs, unc)
    result.front = result.designs.loc[result.front.index]
    for entry in bands_summary["front"]:
        row = result.designs.loc[entry["design"]]
        entry["hardware"] = with_memory(describe_hardware(row, compact=True), row, sep=" ")
    return bands_summary


def _write_sweep(spec: Any, settings: Any, result: Any, out: Path, bands_summary: dict | None = None) -> dict:
    from catransformers.cli.display import print_sweep
    from catransformers.fileio import atomic_write, atomic_write_with
    from catransformers.report.plots import plot_sweep

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "designs.csv", result.designs.to_csv(index=False))
    atomic_write_with(out / "designs.parquet", lambda p: result.designs.to_parquet(p, index=False))
    atomic_write(out / "pareto.csv", result.front.to_csv(index=False))
    plot_sweep(result.designs, result.front, out / "pareto.png", spec.id, settings.constraints.max_latency_ms)
    summary = sweep_summary(spec, settings, result)
    if bands_summary is not None:
        summary["uncertainty"] = bands_summary
    atomic_write(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False))
    print_sweep(summary, out, SWEEP_FILES)
    return summary


_SUMMARY_KEYS = ("hardware_kind", "device", "batch", "clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb",
                 "node_nm", "dram_type", "dram_gb", "dram_bw_gbps", "memory_gb", "latency_s", "energy_per_inference_j",
                 "area_mm2", "tops", "embodied_kg", "operational_kg", "total_carbon_kg", "duty_cycle", "bound")


def sweep_summary(spec: Any, settings: Any, result: Any) -> dict[str, Any]:
    from catransformers.cost import plain
    from catransformers.report.tables import is_missing

    cs = settings.carbon
    return {
        "model": spec.id, "configs": len(result.designs), "feasible": len(result.feasible),
        "pareto": len(result.front), "evaluate_s": result.evaluate_s, "dataflow": settings.dataflow_text(),
        "profile": settings.profile, "constraints": settings.constraints.model_dump(),
        "infeasible_by": {c[3:]: int((~result.designs[c]).sum()) for c in result.designs.columns
                          if c.startswith("ok_")},
        "usage": {"lifetime_years": cs.lifetime_years, "inferences_per_s": cs.inferences_per_s,
                  "hours_per_day": cs.hours_per_day, "total_inferences": cs.inferences(),
                  "count_given": cs.total_inferences is not None, "use_ci_g_per_kwh": cs.use_ci_g_per_kwh(),
                  "fleet_size": cs.fleet_size},
        "best": {name: {k: plain(row[k]) for k in _SUMMARY_KEYS if k in row.index and not is_missing(row[k])}
                 for name, row in result.best.items()},
    }


def register(app: typer.Typer) -> None:
    """Add `estimate` and `sweep`."""
    app.command("estimate")(estimate_cmd)
    app.command("sweep")(sweep_cmd)
