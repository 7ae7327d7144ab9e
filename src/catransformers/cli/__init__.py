"""The `catransformers` command: one Typer app, each pipeline area registering its own subcommands.

User errors (`UserError`, invalid configs) print as one line and exit with code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from typer._click import exceptions as click_errors  # typer 0.29 vendors click: its own exception classes

from catransformers.cli import accuracy as accuracy_cmds
from catransformers.cli import cost as cost_cmds
from catransformers.cli import devices as devices_cmds
from catransformers.cli import models as models_cmds
from catransformers.cli import search as search_cmds
from catransformers.errors import UserError
from catransformers.strict import one_line

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


for module in (models_cmds, cost_cmds, devices_cmds, accuracy_cmds, search_cmds):
    module.register(app)


def _usage_line(err: click_errors.ClickException) -> str:
    """Click/Typer usage errors as one line, with where to read the usage."""
    message = " ".join(err.format_message().split()).rstrip(".")
    ctx = getattr(err, "ctx", None)
    where = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
    return f"{message}{where}"


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors are one line on stderr and exit code 2, never a traceback."""
    try:
        code = app(args=argv, standalone_mode=False)
    except click_errors.NoArgsIsHelpError as err:
        typer.echo(err.ctx.get_help())
        code = 2
    except typer.Abort:
        typer.echo("interrupted", err=True)
        code = 130
    except click_errors.ClickException as err:
        typer.echo(f"error: {_usage_line(err)}", err=True)
        code = err.exit_code if err.exit_code else 2
    except UserError as err:
        typer.echo(f"error: {' '.join(str(err).split())}", err=True)
        code = 2
    except ValidationError as err:
        typer.echo(f"error: {one_line(err)}", err=True)
        code = 2
    except OSError as err:  # the file system refused (permissions, a full disk, a name too long, ...)
        what = f" {err.filename}" if err.filename else ""
        typer.echo(f"error: cannot access{what}: {err.strerror or err}", err=True)
        code = 2
    code = code if isinstance(code, int) else 0
    if argv is None:
        sys.exit(code)
    return code
