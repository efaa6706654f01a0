"""sql/schema.sql and the SQLAlchemy models describe the same schema (proved on PostgreSQL)."""

from sqlalchemy import inspect

from qbank.store.db import init_schema, make_engine
from qbank.store.models import Base
from tests.backends import postgres_schema


def describe(engine):
    inspector = inspect(engine)
    tables = {}
    for table in sorted(inspector.get_table_names()):
        columns = {
            column["name"]: (str(column["type"]), column["nullable"])
            for column in inspector.get_columns(table)
        }
        foreign_keys = sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(table)
        )
        uniques = sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table))
        indexes = sorted(
            (index["name"], tuple(index["column_names"]), bool(index["unique"]))
            for index in inspector.get_indexes(table)
        )
        checks = sorted(check["name"] for check in inspector.get_check_constraints(table))
        primary_key = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        tables[table] = {
            "columns": columns, "pk": primary_key, "fks": foreign_keys, "uniques": uniques,
            "indexes": indexes, "checks": checks,
        }  # fmt: skip
    return tables


def test_sql_schema_matches_models_on_postgres():
    with postgres_schema() as from_sql_url, postgres_schema() as from_models_url:
        from_sql = make_engine(from_sql_url)
        init_schema(from_sql)  # executes sql/schema.sql
        from_models = make_engine(from_models_url)
        Base.metadata.create_all(from_models)
        try:
            sql_schema, model_schema = describe(from_sql), describe(from_models)
        finally:
            from_sql.dispose()
            from_models.dispose()
    assert set(sql_schema) == set(Base.metadata.tables)
    for table in sql_schema:
        assert sql_schema[table] == model_schema[table], table


def test_init_schema_is_idempotent(engine):
    init_schema(engine)
    init_schema(engine)
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)


def test_concurrent_schema_creation_on_postgres():
    from concurrent.futures import ThreadPoolExecutor

    with postgres_schema() as url:
        engines = [make_engine(url) for _ in range(4)]
        try:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(init_schema, engines))
        finally:
            for engine in engines:
                engine.dispose()
