"""``calpico server``: run the delivery and directory service, or create an invite."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["server_app"]

server_app = typer.Typer(help="Run the Calpico server (delivery + directory service).", no_args_is_help=False)

ConfigFile = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file ([server] table)")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="folder for the SQLite database")]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="postgresql://... (default: SQLite)")]


def _config(config: Path | None, **overrides: object) -> object:
    from calpico.server.config import load_config

    try:
        return load_config(config, overrides=overrides)
    except (ValueError, OSError) as exc:
        typer.echo(f"calpico server: {exc}", err=True)
        raise typer.Exit(2) from None


@server_app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    config: ConfigFile = None,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    redis_url: Annotated[str | None, typer.Option("--redis-url", help="redis://... for several processes")] = None,
    server_name: Annotated[str | None, typer.Option("--server-name", help="name devices sign into challenges")] = None,
    registration: Annotated[str | None, typer.Option(help="open, invite or closed")] = None,
    log_level: Annotated[str | None, typer.Option("--log-level")] = None,
) -> None:
    """Run the server (uvicorn with uvloop). With no options: SQLite in ./calpico-data."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from calpico.server.app import create_app
    from calpico.server.config import ServerConfig
    from calpico.server.websocket import uvicorn_options

    cfg = _config(
        config,
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        server_name=server_name,
        registration=registration,
        log_level=log_level,
    )
    assert isinstance(cfg, ServerConfig)
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The database work runs on threads (the message writer's, aiosqlite's). While the event
    # loop is busy, each of their GIL hand-offs waits out the switch interval (5 ms by default),
    # several times per batch; at 0.5 ms the median send->deliver latency under load fell by
    # half or more (benchmarks/server_fanout.py, docs/server.md), with no loss of throughput.
    sys.setswitchinterval(0.0005)
    uvicorn.run(
        create_app(cfg),
        host=cfg.host,
        port=cfg.port,
        log_level=cfg.log_level,
        **uvicorn_options(cfg.max_message_size),
    )


@server_app.command()
def invite(
    config: ConfigFile = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    uses: Annotated[int, typer.Option(help="how many registrations it allows")] = 1,
) -> None:
    """Create an invite token (for ``registration = "invite"``)."""
    from calpico.server.config import ServerConfig
    from calpico.server.db.engine import create_engine, migrate
    from calpico.server.services.accounts import AccountService

    cfg = _config(config, data_dir=data_dir, database_url=database_url)
    assert isinstance(cfg, ServerConfig)

    async def make() -> str:
        engine = create_engine(cfg.effective_database_url)
        try:
            await migrate(engine)
            return await AccountService(engine, cfg).create_invite(uses)
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(make()))
