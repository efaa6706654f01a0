"""Engines, sessions and schema creation for PostgreSQL and the embedded SQLite default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConfigError
from qbank.store.models import Base

__all__ = ["SCHEMA_SQL", "init_schema", "make_engine", "make_session_factory"]

SCHEMA_SQL = Path(__file__).resolve().parents[2] / "sql" / "schema.sql"


_SCHEMA_LOCK_ID = 7_274_551  # pg_advisory_xact_lock key: one schema creation at a time


def _configure_sqlite(dbapi_connection: Any, _record: object) -> None:
    # Let SQLAlchemy's "begin" event start transactions itself (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # SQLite ignores SELECT … FOR UPDATE; taking the write lock when a transaction begins makes
    # read-check-write use cases (cancel, finish, apply) as safe as row locks in PostgreSQL.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; SQLite gets foreign keys on and its folder created."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    # No pre-ping: it costs a round trip per checkout on every request. A connection found dead
    # fails its request once and SQLAlchemy then discards the pool's older connections.
    return create_engine(url, pool_size=10, max_overflow=20)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (services return plain data anyway)."""
    return sessionmaker(engine, expire_on_commit=False)


def init_schema(engine: Engine) -> None:
    """Create the schema if missing, idempotently: PostgreSQL from ``sql/``, SQLite from models.

    Raises:
        ConfigError: ``sql/schema.sql`` is not found next to the package.
    """
    if engine.dialect.name == "postgresql":
        if not SCHEMA_SQL.is_file():
            raise ConfigError(f"schema file not found: {SCHEMA_SQL}")
        with engine.begin() as connection:
            # Workers and commands starting together would race on CREATE … IF NOT EXISTS.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_ID})")
            connection.exec_driver_sql(SCHEMA_SQL.read_text(encoding="utf-8"))
    else:
        Base.metadata.create_all(engine)
        _add_missing_columns(engine)


def _add_missing_columns(engine: Engine) -> None:
    """Upgrade an older SQLite file: add the nullable columns the models gained since.

    ``create_all`` only creates missing tables; PostgreSQL gets the same from the
    ``ALTER TABLE … ADD COLUMN IF NOT EXISTS`` lines of sql/schema.sql.
    """
    with engine.begin() as connection:
        inspector = inspect(connection)
        for table in Base.metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                    )
