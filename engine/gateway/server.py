"""``vertex-engine serve``: run the gateway on uvicorn (one or several worker processes)."""

from __future__ import annotations

import argparse
import atexit
import logging
import logging.config
import os
import shutil
import sys
import tempfile
from typing import Any

from engine.errors import redact
from engine.nodelay import http_protocol

from .cluster_state import WORKERS_STATE_ENV
from .config import ConfigError, GatewayConfig, load_config, parse_config

__all__ = ["app_from_env", "serve_main"]

CONFIG_ENV = "VERTEX_ENGINE_CONFIG"


class RedactSecrets(logging.Filter):
    """Runs every log line's text through :func:`engine.errors.redact`: the access log prints request
    paths, and a pass-through caller's gateway key can be one's query (``/gemini/...?key=sk-...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):  # uvicorn's access formatter reads the args themselves
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def _log_config(level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"}},
        "filters": {"redact": {"()": RedactSecrets}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr", "filters": ["redact"]}},
        "root": {"handlers": ["stderr"], "level": level},
        # httpx logs every upstream request at INFO; one line per call is the access log's job.
        "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
    }


def _config(path: str | None) -> GatewayConfig:
    """The config file's, or with none the environment's alone (``LITELLM_MASTER_KEY``,
    ``DATABASE_URL``, ``GEMINI_API_KEY``...: enough for pass-through, as the seeds run ``litellm``)."""
    return load_config(path) if path else parse_config({}, "<no --config>")


def app_from_env() -> Any:
    """ASGI app factory for uvicorn workers: the config path comes from ``VERTEX_ENGINE_CONFIG``."""
    from .app import create_app
    from .shutdown import arm_on_signals

    arm_on_signals()  # a worker: uvicorn's signal handlers are in place; a stop signal starts the deadline
    return create_app(_config(os.environ.get(CONFIG_ENV)))


def _database_problem(config: GatewayConfig) -> str | None:
    """Why the configured database (and the spend journal folder) cannot be used, in one line; None if they can.
    Checked once before any worker starts, so a bad DATABASE_URL is a clear message, not a traceback per worker."""
    import asyncio

    from .store import open_store

    async def check() -> None:
        store = open_store(config.database_url, config.database_path)
        await store.open()
        try:
            await store.get_key("0" * 64)
        finally:
            await store.close()

    try:
        asyncio.run(asyncio.wait_for(check(), 30))
    except Exception as exc:  # noqa: BLE001 - whatever it is, say it in one line
        return redact(f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else str(exc))
    try:
        os.makedirs(config.spend_journal_dir, exist_ok=True)
        probe = os.path.join(config.spend_journal_dir, ".writable")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as exc:
        return f"spend journal folder {config.spend_journal_dir} (general_settings.spend_journal_dir) is not writable: {exc}"
    return None


def serve_main(argv: list[str]) -> int:
    """Parse ``serve`` arguments, validate the config, run uvicorn until interrupted."""
    parser = argparse.ArgumentParser(prog="vertex-engine serve", description="Run the OpenAI-compatible gateway.")
    parser.add_argument("--config", "-c", help="config.yaml (LiteLLM proxy format); without it, only the environment "
                        "(LITELLM_MASTER_KEY, DATABASE_URL, GEMINI_API_KEY...): pass-through routes and no models")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    parser.add_argument("--port", "-p", type=int, default=4000, help="port (default 4000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--access-log", action="store_true", help="log one line per request")
    args = parser.parse_args(argv)
    log_config = _log_config(args.log_level.upper())
    logging.config.dictConfig(log_config)
    try:
        config = _config(args.config)  # fail here, once, before any worker starts
    except ConfigError as exc:
        print(f"vertex-engine serve: bad config: {exc}", file=sys.stderr)
        return 2
    if "openai" in sys.modules and os.environ.get("VERTEX_ENGINE_OPENAI_ERRORS") is None:
        # The engine subclassed openai's exceptions because openai is installed; the gateway
        # never raises them to Python code, so start again without them (about 50 MB less).
        os.environ["VERTEX_ENGINE_OPENAI_ERRORS"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "engine.cli", "serve", *argv])
    problem = _database_problem(config)  # after the re-exec: once
    if problem:
        print(f"vertex-engine serve: cannot use the database: {problem}", file=sys.stderr)
        return 3
    import uvicorn

    from .shutdown import patch_uvicorn

    patch_uvicorn()  # a hard deadline on shutdown (see engine/gateway/shutdown.py)
    on_postgres = (config.database_url or "").strip().startswith(("postgres://", "postgresql://"))
    if args.workers > 1 and not config.redis_url and not on_postgres:  # on PostgreSQL they share it there
        # Budgets, key and deployment limits must hold across the workers: they share them
        # through a small SQLite file that lives as long as this serve run.
        folder = tempfile.mkdtemp(prefix="vertex-engine-workers-")
        atexit.register(shutil.rmtree, folder, True)
        os.environ[WORKERS_STATE_ENV] = os.path.join(folder, "state.db")
        logging.getLogger("vertex_engine.gateway").info(
            "%d workers without Redis: budgets and rate limits are shared through %s; cooldowns and "
            "in-flight counts are per worker (set REDIS_URL to share those too)", args.workers, folder)

    if args.config:
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
    else:
        os.environ.pop(CONFIG_ENV, None)
    groups = ", ".join(config.groups()) or "none"
    print(f"vertex-engine gateway on http://{args.host}:{args.port} serving: {groups}", file=sys.stderr, flush=True)
    uvicorn.run(
        "engine.gateway.server:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers if args.workers > 1 else None,
        http=http_protocol(),
        ws="none",
        log_level=args.log_level,
        access_log=args.access_log,
        log_config=log_config,  # applied in every worker process too
        timeout_graceful_shutdown=5,
    )
    return 0
