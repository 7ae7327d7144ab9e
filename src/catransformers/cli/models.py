"""`catransformers models`: the registry table."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from catransformers.models import REGISTRY, param_count


def list_models(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List the supported models: id, family, encoders with dims (layers/hidden/FFN/heads), source."""
    if as_json:
        out = [
            {"id": m.id, "family": m.family, "params": param_count(m), "hf_id": m.hf_id, "source": m.source,
             "encoders": [{"name": e.name, "layers": e.layers, "hidden": e.hidden, "ffn": e.ffn, "heads": e.heads,
                           "kv_heads": e.kv_heads, "seq_len": e.seq_len} for e in m.encoders]}
            for m in REGISTRY.values()
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table(title="Supported models (dims: layers/hidden/FFN/heads, tokens)")
    for col in ("id", "family", "params", "encoders", "source"):
        table.add_column(col, overflow="fold")
    for m in REGISTRY.values():
        encs = "\n".join(
            f"{e.name}: {e.layers}/{e.hidden}/{e.ffn}/{e.heads}"
            + (f" kv{e.kv_heads}" if e.kv_heads != e.heads else "")
            + f", {e.seq_len} tok"
            for e in m.encoders
        )
        table.add_row(m.id, m.family, f"{param_count(m) / 1e6:.1f} M", encs, m.source)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(list_models)
