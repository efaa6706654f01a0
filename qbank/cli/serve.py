"""``qbank serve``, ``qbank dashboard``, ``qbank demo`` and ``qbank user add``."""

from __future__ import annotations

import importlib
import os
import secrets
import sys
from dataclasses import replace
from typing import Any

import click

from qbank.settings import Settings, data_dir_secret

__all__ = ["COMMANDS"]

DEMO_ACCOUNTS = (
    ("admin", ("admin",)),
    ("author", ("author", "publisher")),
    ("student", ("student",)),
)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
    )


def _signing_settings(settings: Settings) -> Settings:
    """Settings whose secret can sign tokens, exported for the uvicorn worker processes.

    Production without a usable secret stops here (one line on stderr, exit 2). Dev without
    one uses the data directory's random key, the same for every process serving that directory.
    """
    problem = settings.secret_problem()
    if problem:
        raise click.UsageError(problem)
    if not settings.secret:
        settings = replace(settings, secret=data_dir_secret(settings.data_dir))
    os.environ["QBANK_ENV"], os.environ["QBANK_SECRET"] = settings.env, settings.secret
    return settings


def _dashboard(settings: Settings, host: str, port: int, *, threaded: bool = False) -> Any:
    # By module path, as uvicorn names the API: importing qbank never imports Panel.
    app = importlib.import_module("dashboard.app")
    return app.serve(settings, host, port, threaded=threaded)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="API processes; with more than one, set QBANK_REDIS_URL and run 'qbank worker'.",
)
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (OpenAPI docs at /schema)."""
    settings = _signing_settings(Settings.from_env())  # production needs a secret of its own
    if workers > 1 and not settings.redis_url:
        raise click.UsageError("several workers share state through Redis: set QBANK_REDIS_URL")
    _serve(host, port, workers)


@click.command("dashboard")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5006, show_default=True)
def dashboard_command(host: str, port: int) -> None:
    """Serve the admin dashboard (log in with an admin account; see 'qbank user add')."""
    settings = _signing_settings(Settings.from_env())  # production needs a secret of its own
    click.echo(
        f"QBank dashboard ({settings.env} mode) at http://{host}:{port} — Ctrl+C stops it.",
        err=True,
    )
    _dashboard(settings, host, port)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--dashboard-port", type=click.IntRange(1, 65535), default=5006, show_default=True)
def demo_command(host: str, port: int, dashboard_port: int) -> None:
    """The whole system on the embedded default, in dev mode: seeded exam, accounts, API, UI.

    The one command that runs in dev mode (QBANK_ENV unset means dev here, prod refuses it);
    tokens are signed with the data directory's random key unless QBANK_SECRET is set.
    """
    from qbank.cli.store import open_sessions
    from qbank.services.access.auth import reset_user
    from qbank.services.demo.seeding import seed_demo

    if os.environ.get("QBANK_ENV", "dev") != "dev":
        raise click.UsageError(
            "qbank demo creates demo accounts and data: it runs only in dev mode "
            "(QBANK_ENV unset or QBANK_ENV=dev; use 'qbank serve' in production)"
        )
    settings = _signing_settings(Settings.from_env({**os.environ, "QBANK_ENV": "dev"}))
    sessions = open_sessions(settings)
    click.echo("qbank demo: seeding the demo exam (first run takes a few seconds)…", err=True)
    report = seed_demo(sessions, settings.tenant_id)
    passwords = {}
    for username, roles in DEMO_ACCOUNTS:
        passwords[username] = secrets.token_urlsafe(9)
        reset_user(sessions, settings.tenant_id, f"demo-{username}", passwords[username], roles)
    base = f"http://{host}:{port}"
    lines = [
        "",
        "QBank demo — DEV MODE (mock login on, demo accounts): keep it on this machine",
        f"  exam {report.exam_code} ({report.created + report.existing} items), "
        f"tenant {settings.tenant_id}, database {_redact(settings.database_url)}",
        f"  API        {base}",
        f"  API docs   {base}/schema/swagger",
        f"  health     {base}/health",
        "  logins (POST /v1/auth/login; new passwords on every start):",
        *(
            f"    demo-{name:<8} {passwords[name]:<14} roles: {', '.join(roles)}"
            for name, roles in DEMO_ACCOUNTS
        ),
        f"  dashboard  http://{host}:{dashboard_port}  (log in as demo-admin)",
        "  Ctrl+C stops it.",
        "",
    ]
    # One process: the dashboard's thread shares the API's in-process job runner.
    dashboard = _dashboard(settings, host, dashboard_port, threaded=True)
    click.echo("\n".join(lines))
    sys.stdout.flush()
    try:
        _serve(host, port, 1)
    finally:
        dashboard.stop()


@click.group("user")
def user_group() -> None:
    """User accounts."""


@user_group.command("add")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["student", "author", "publisher", "admin"]),
)
@click.option("--tenant", help="Tenant (default: QBANK_TENANT_ID).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(
    username: str, roles: tuple[str, ...], tenant: str | None, password_stdin: bool
) -> None:
    """Add a user with a hashed password (prompted unless --password-stdin)."""
    from qbank.cli.store import open_sessions
    from qbank.services.access.auth import create_user

    settings = Settings.from_env()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    user_id = create_user(
        open_sessions(settings), tenant or settings.tenant_id, username, password, roles
    )
    click.echo(f"user {username} ({', '.join(roles)}) added with id {user_id}")


COMMANDS = [serve_command, dashboard_command, demo_command, user_group]
