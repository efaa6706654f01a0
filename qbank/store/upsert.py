"""``INSERT … ON CONFLICT`` for PostgreSQL and SQLite: one statement, no read-then-write race."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session

__all__ = ["upsert"]


def upsert(
    session: Session,
    model: type[DeclarativeBase],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
    update_columns: Sequence[str] = (),
) -> None:
    """Insert a row; on a clash of ``conflict_columns`` update ``update_columns`` (or skip).

    Two writers of one new key both succeed: the database decides which insert becomes the row
    and the other turns into an update, where a read-then-insert would raise a unique violation.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**values)
    if update_columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict_columns),
            set_={name: statement.excluded[name] for name in update_columns},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    session.execute(statement)
