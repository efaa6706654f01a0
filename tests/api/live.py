"""A real scaled-out deployment for race tests: `qbank serve --workers 2` on PostgreSQL + Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.test_serve import free_port, wait_healthy

PASSWORD = "long password 1"
ACCOUNTS = (("ann", ("author", "publisher")), ("stu", ("student",)), ("stu2", ("student",)),
            ("adm", ("admin",)))  # fmt: skip


@dataclass
class Live:
    """A running deployment: its base URL, database URL, env and a login per account."""

    base: str
    database_url: str
    env: dict[str, str]
    headers: dict[str, dict[str, str]]

    def race(self, calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
        """Fire the calls at once from as many threads; the responses in order."""
        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(lambda call: call(), calls))

    def post(self, path: str, who: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", headers=self.headers[who], timeout=60, **kwargs)


def _login(base: str, name: str) -> dict[str, str]:
    response = httpx.post(f"{base}/v1/auth/login", json={"username": name, "password": PASSWORD},
                          timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@contextmanager
def live_deployment(extra_env: dict[str, str] | None = None) -> Iterator[Live]:
    """Two API processes on a fresh PostgreSQL schema and a private Redis key prefix."""
    from qbank.services.access.auth import create_user
    from qbank.store.db import init_schema, make_engine, make_session_factory
    from tests.backends import postgres_schema, redis_url_or_skip

    redis_url = redis_url_or_skip()
    with postgres_schema() as database_url:
        engine = make_engine(database_url)
        init_schema(engine)
        sessions = make_session_factory(engine)
        for name, roles in ACCOUNTS:
            create_user(sessions, "acme", name, PASSWORD, roles)
        engine.dispose()
        prefix = f"qbank-test-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "QBANK_DATABASE_URL": database_url, "QBANK_REDIS_URL": redis_url,
               "QBANK_TENANT_ID": "acme", "QBANK_ENV": "dev", "QBANK_SECRET": "r" * 40,
               "QBANK_STATE_PREFIX": prefix, "QBANK_RQ_QUEUE": prefix}  # fmt: skip
        env.update(extra_env or {})
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "qbank.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_healthy(base, server)
            headers = {name: _login(base, name) for name, _ in ACCOUNTS}
            yield Live(base, database_url, env, headers)
        finally:
            server.terminate()
            server.wait(timeout=30)
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"*{prefix}*"):
                client.delete(key)
            client.close()
