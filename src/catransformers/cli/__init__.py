"""The `catransformers` command: one Typer app, each pipeline area registering its own subcommands.

User errors (`UserError`, invalid configs) print as one line and exit with code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from catransformers.cli import accuracy as accuracy_cmds
from catransformers.cli import cost as cost_cmds
from catransformers.cli import models as models_cmds
from catransformers.cli import search as search_cmds
from catransformers.errors import UserError

app = typer.Typer(
    name="catransformers",
    help="Carbon-aware co-design of pruned Transformers and edge inference accelerators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root() -> None:
    """Carbon-aware co-design of pruned Transformers and edge inference accelerators."""


for module in (models_cmds, cost_cmds, accuracy_cmds, search_cmds):
    module.register(app)


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "value"
    return f"invalid {where}: {first['msg']}"


def main() -> None:
    """Console entry point."""
    try:
        app(standalone_mode=True)
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except ValidationError as err:
        typer.echo(f"error: {_one_line(err)}", err=True)
        sys.exit(2)
