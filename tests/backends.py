"""Real backends for service tests: the embedded default and PostgreSQL (+ Redis).

PostgreSQL tests run in a schema of their own (dropped afterwards); Redis tests under a key
prefix of their own, RQ jobs on a queue of their own whose every ``rq:*`` key is deleted
afterwards (``rq_queue``). When a service is unreachable the tests skip, except under
``CI=true``, where they fail: CI must exercise both backends.

``QBANK_TEST_DATABASE_URL`` takes the forms ``QBANK_DATABASE_URL`` does: ``postgresql://…``
means psycopg2, as in ``make_engine``, whatever SQLAlchemy's own default driver is.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text

from qbank.store.db import make_engine

PG_URL = os.environ.get(
    "QBANK_TEST_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("QBANK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {str(error).splitlines()[0]})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run against it")
    pytest.skip(message)


def schema_url(base_url: str, schema: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a database URL whose search_path is that schema."""
    schema = f"qbank_test_{uuid.uuid4().hex[:12]}"
    admin: Engine = make_engine(PG_URL)  # the URL forms the README documents
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:
        admin.dispose()
        unavailable("PostgreSQL at " + PG_URL.split("@")[-1], error)
    try:
        yield schema_url(PG_URL, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def redis_url_or_skip() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.RedisError as error:
        unavailable("Redis at " + REDIS_URL, error)
    finally:
        client.close()
    return REDIS_URL


def purge_rq_queue(redis_url: str, queue_name: str) -> int:
    """Delete every ``rq:*`` key of a queue: the queue, its registries, jobs, results, workers.

    RQ's own ``Queue.delete`` leaves the finished/failed registries (no expiry), the finished
    jobs and their result streams. Returns the number of keys deleted.
    """
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        own = [key for key in client.scan_iter("rq:*") if key.endswith(f":{queue_name}")]
        jobs: set[str] = set()
        workers: set[str] = set()
        for key in own:
            kind = client.type(key)
            if kind == "list":
                jobs.update(client.lrange(key, 0, -1))
            elif kind == "zset":  # registries; started jobs are "job_id:execution_id"
                jobs.update(member.split(":")[0] for member in client.zrange(key, 0, -1))
            elif kind == "set" and key.startswith("rq:workers:"):
                workers.update(client.smembers(key))
        doomed = set(own) | workers
        for job_id in jobs:  # rq:job:ID, rq:results:ID, rq:job:ID:dependents, …
            doomed.update(client.scan_iter(f"rq:*{job_id}*"))
        for key in client.scan_iter("rq:worker:*"):  # dead workers linger for a minute
            if client.type(key) == "hash" and queue_name in (
                client.hget(key, "queues") or ""
            ).split(","):
                doomed.add(key)
        if doomed:
            client.delete(*doomed)
        client.srem("rq:queues", f"rq:queue:{queue_name}")
        if workers:
            client.srem("rq:workers", *workers)
        if not client.scard("rq:workers"):  # no worker left anywhere: RQ's cleaning lock too
            doomed.add("rq:clean_groups")
            client.delete("rq:clean_groups")
        return len(doomed)
    finally:
        client.close()


@contextmanager
def rq_queue(redis_url: str | None) -> Iterator[str]:
    """A fresh RQ queue name, also usable as a state-key prefix.

    With Redis, every ``rq:*`` key of the queue and every ``<name>:*`` key (quiz state,
    exposure counters, login throttling) is deleted afterwards.
    """
    name = f"qbank-test-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        if redis_url:
            import redis

            purge_rq_queue(redis_url, name)
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{name}:*"):
                client.delete(key)
            client.close()


class PrivateRedis:
    """A `redis-server` of a test's own on ``port`` (nothing on disk), to stop and restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        self._server = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()  # never leave a server behind
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=30)
            self._server = None


@contextmanager
def private_redis_server(port: int) -> Iterator[PrivateRedis]:
    """A started ``PrivateRedis``, stopped at the end whatever happened."""
    server = PrivateRedis(port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
