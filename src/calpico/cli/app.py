"""The ``calpico`` command line: one Typer app, one module per command group.

Every command reaches the SDK through its public API (`calpico.client`);
``calpico server`` and ``calpico demo`` also run the server in-process.
`main` is the only place errors are reported: one line on stderr and a
documented exit code (`calpico.cli.errors`), never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import calpico

from . import account_cmd, assistant_cmd, chat_cmd, contacts_cmd, conversations_cmd, demo_cmd, devices_cmd, listen_cmd
from .common import GlobalOptions
from .errors import EXIT_USAGE, UsageProblem
from .output import current_output, forget_output
from .server_cmd import server_app

app = typer.Typer(
    name="calpico",
    help="Calpico: end-to-end encrypted chat for people and their AI assistants. Try `calpico demo`.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()

# In `calpico --help` order: the demo first, then a person's day, then administration.
app.command()(demo_cmd.demo)
app.add_typer(account_cmd.account_app, name="account")
app.command()(conversations_cmd.dm)
app.command()(conversations_cmd.rooms)
app.add_typer(conversations_cmd.room_app, name="room")
app.command()(conversations_cmd.send)
app.command()(conversations_cmd.history)
app.command()(chat_cmd.chat)
app.command()(listen_cmd.listen)
app.add_typer(contacts_cmd.requests_app, name="requests")
app.command()(contacts_cmd.block)
app.command()(contacts_cmd.unblock)
app.command()(contacts_cmd.verify)
app.add_typer(assistant_cmd.assistant_app, name="assistant")
app.command()(assistant_cmd.share)
app.command()(devices_cmd.devices)
app.add_typer(devices_cmd.device_app, name="device")
app.add_typer(server_app, name="server")


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="profile (device) to use [env: CALPICO_PROFILE]")
    ] = None,
    home: Annotated[
        Path | None, typer.Option("--home", help="folder of the profiles [env: CALPICO_HOME]", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts (see docs/cli.md)")] = False,
    color: Annotated[bool | None, typer.Option("--color/--no-color", help="force colours on or off")] = None,
) -> None:
    ctx.obj = GlobalOptions(home=home, profile=profile, as_json=as_json, color=color)
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
    console.print("Try [bold]calpico demo[/bold] to watch three people chat, or [bold]calpico --help[/bold].")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calpico`` console script; returns (and as a script, exits with) the exit code."""
    code = run(argv)
    if argv is None:
        sys.exit(code)
    return code


def _quiet_logs() -> None:
    """The SDK logs warnings (a refused send, a dropped connection); people get our one-line reasons instead.

    ``CALPICO_DEBUG=1`` shows every log line (and tracebacks). ``calpico server`` sets up its own logging.
    """
    if os.environ.get("CALPICO_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return
    for name in ("calpico.client", "calpico.cli"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def run(argv: Sequence[str] | None = None) -> int:
    """Run one ``calpico`` command line; every failure becomes one line on stderr and an exit code."""
    _quiet_logs()
    forget_output()
    try:
        result = app(args=list(argv) if argv is not None else None, prog_name="calpico", standalone_mode=False)
    except typer.TyperException as exc:  # click's errors, as Typer vendors them
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")  # a group named alone: its help, as click does
            return EXIT_USAGE
        if exc.exit_code == EXIT_USAGE:  # a UsageError: bad arguments or options
            where = ctx.command_path if ctx is not None else "calpico"
            return current_output().error(UsageProblem(f"{exc.format_message()} (see `{where} --help`)"))
        sys.stderr.write(f"calpico: {' '.join(exc.format_message().split())}\n")
        return exc.exit_code
    except typer.Abort:
        return current_output().error(KeyboardInterrupt())
    except KeyboardInterrupt as exc:
        return current_output().error(exc)
    except Exception as exc:  # one line, never a traceback; CALPICO_DEBUG shows it for developers
        if os.environ.get("CALPICO_DEBUG"):
            raise
        return current_output().error(exc)
    return result if isinstance(result, int) else 0


__all__ = ["EXIT_USAGE", "app", "main", "run"]
