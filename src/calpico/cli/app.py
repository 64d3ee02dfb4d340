"""The ``calpico`` command line: one Typer app, one sub-command per job."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

import calpico

from .server_cmd import server_app

app = typer.Typer(
    name="calpico",
    help="Calpico: end-to-end encrypted chat for people and their AI assistants.",
    no_args_is_help=False,
    add_completion=False,
)
console = Console()
app.add_typer(server_app, name="server")


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        info()


@app.command()
def info() -> None:
    """Show the version and the MLS cipher suites this build supports."""
    from calpico.mls.crypto import SUITES

    console.print(f"[bold]Calpico[/bold] {calpico.__version__}")
    table = Table(title="MLS cipher suites (RFC 9420)")
    table.add_column("id", justify="right")
    table.add_column("name")
    for suite_id, suite in sorted(SUITES.items()):
        table.add_row(f"0x{suite_id:04X}", suite.name)
    console.print(table)


def main() -> None:
    """Entry point of the ``calpico`` console script."""
    app()
