"""`catransformers evaluate` (prune + heal + score, cached) and `catransformers prune` (write a checkpoint)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from catransformers.errors import UserError

_MODEL = typer.Option("minilm-l6", "--model", "-m", help="model id (minilm-l6, smollm2-135m, tiny-vit-digits, a "
                      "registry id with HF weights, a Hugging Face id) or a local model folder")
_PRUNE = typer.Option(None, "--prune", "-p", help="what to keep, e.g. layers=4,heads=8,ffn_blocks=10,"
                      "hidden_blocks=14 (CLIP: text.layers=6,vision.heads=8); omitted = unpruned")
_CACHE = typer.Option(None, "--cache-dir",
                      help="result cache (default $CATRANSFORMERS_CACHE or ~/.cache/catransformers)")


def _precheck(model: str, prune: str | None) -> None:
    """Reject a bad --prune for a registry model before any weights are loaded."""
    from catransformers.models import REGISTRY, parse_prune

    if prune and model in REGISTRY:
        parse_prune(REGISTRY[model], prune)


def _fmt_flops(flops: float) -> str:
    return f"{flops / 1e9:.3g} GFLOP"


def evaluate(
    model: str = _MODEL,
    prune: str | None = _PRUNE,
    recipe: str = typer.Option("distill", "--recipe", help="healing: distill | supervised | none"),
    task: str = typer.Option("auto", "--task", help="task scorer (auto = the model's default)"),
    data: str | None = typer.Option(None, "--data", help="task data (CSV / saved HF dataset) where the task needs it"),
    steps: int | None = typer.Option(None, "--steps", help="healing steps at FLOP ratio 1 (base_steps)"),
    lr: float | None = typer.Option(None, "--lr", help="peak learning rate"),
    importance: str | None = typer.Option(None, "--importance",
                                          help="taylor | activation | magnitude | ablation | last"),
    seed: int = typer.Option(0, "--seed"),
    cache_dir: Path | None = _CACHE,
    no_cache: bool = typer.Option(False, "--no-cache", help="recompute and do not store the result"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Prune a pretrained model, heal it with a short fine-tune, score it; a repeat is served from the cache."""
    from catransformers.accuracy import AccuracyRecipe, evaluate_accuracy

    _precheck(model, prune)
    fields = {"heal": recipe, "task": task, "data": data, "seed": seed, "base_steps": steps, "lr": lr,
              "importance": importance}
    rec = AccuracyRecipe(**{k: v for k, v in fields.items() if v is not None})
    try:
        result = evaluate_accuracy(model, prune, rec, cache_dir, use_cache=not no_cache)
    except FloatingPointError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
        return
    from rich.markup import escape

    table = Table(title=escape(f"{result.model_id} [{result.prune}]"), show_header=False)
    arrow = "higher is better" if result.higher_is_better else "lower is better"
    rows = [
        ("task", f"{result.task} ({result.metric}, {arrow})"),
        ("score", f"{result.score:.4f}"),
        ("score before healing", f"{result.score_before_heal:.4f}"),
        ("parameters", f"{result.params:,}"),
        ("FLOPs / inference", _fmt_flops(result.flops)),
        ("heal steps", f"{result.steps} ({result.heal})"),
        ("wall time", f"{result.wall_s:.1f} s" + (" (when computed)" if result.cached else "")),
        ("cached", "yes" if result.cached else "no"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)


def prune(
    model: str = _MODEL,
    prune_text: str = typer.Option(..., "--prune", "-p", help="what to keep, e.g. layers=4,heads=8"),
    out: Path = typer.Option(..., "--out", "-o", help="output folder (must not exist or be empty)"),
    importance: str = typer.Option("activation", "--importance", help="taylor | activation | magnitude | ablation | "
                                   "last (remove from the end)"),
    cache_dir: Path | None = _CACHE,
) -> None:
    """Prune a pretrained model (no healing) and write a Hugging Face checkpoint with its tokenizer."""
    from catransformers.accuracy import AccuracyRecipe, base_model, resolve_prune
    from catransformers.accuracy.cache import ResultCache, weights_fingerprint
    from catransformers.accuracy.evaluate import _importance, device_of
    from catransformers.accuracy.pruning import prune_model, pruned_layout, save_pruned
    from catransformers.accuracy.tasks import make_task
    from catransformers.models import param_count, prune_spec

    _precheck(model, prune_text)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not an empty folder; choose a new path")
    start = time.perf_counter()
    rec = AccuracyRecipe(importance=importance)
    cache = ResultCache(cache_dir)
    loaded, spec = base_model(model, cache.root)
    params = resolve_prune(spec, prune_text)
    task = make_task(loaded, rec, device_of())
    weights = weights_fingerprint(loaded.weight_files, loaded.model, cache.root)
    imp = _importance(task, loaded, rec, cache, weights, task.fingerprint())
    pruned = prune_model(loaded.model, spec, params, imp)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        save_pruned(pruned, tmp)
        if loaded.processor is not None:
            loaded.processor.save_pretrained(tmp)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    standard = pruned_layout(pruned)["standard"]
    cls = type(pruned).__name__
    typer.echo(f"wrote {out} ({param_count(prune_spec(spec, params)):,} parameters, "
               f"{time.perf_counter() - start:.1f} s)")
    if standard:
        typer.echo(f"load with: transformers.{cls}.from_pretrained('{out}')")
    else:
        typer.echo("heads x head size differs from the hidden width, which the standard config cannot express; "
                   f"load with: catransformers.accuracy.pruning.load_pruned('{out}')")


def register(app: typer.Typer) -> None:
    """Add this area's subcommands to `app`."""
    app.command("evaluate")(evaluate)
    app.command("prune")(prune)
