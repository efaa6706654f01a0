"""Engines, sessions and schema creation for PostgreSQL and the embedded SQLite default."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConfigError
from qbank.store.models import Base

__all__ = ["SCHEMA_SQL", "init_schema", "make_engine", "make_session_factory"]

SCHEMA_SQL = Path(__file__).resolve().parents[2] / "sql" / "schema.sql"


def _enable_sqlite_foreign_keys(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; SQLite gets foreign keys on and its folder created."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    return create_engine(url, pool_pre_ping=True)


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
            connection.exec_driver_sql(SCHEMA_SQL.read_text(encoding="utf-8"))
    else:
        Base.metadata.create_all(engine)
