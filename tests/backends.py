"""Real backends for service tests: the embedded default and PostgreSQL (+ Redis).

PostgreSQL tests run in a schema of their own (dropped afterwards); Redis tests under a key
prefix of their own. When a service is unreachable the tests skip, except under ``CI=true``,
where they fail: CI must exercise both backends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text

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
    admin: Engine = create_engine(PG_URL)
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
