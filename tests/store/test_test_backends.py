"""The test backends accept the database URL forms the README documents."""

import pytest
from sqlalchemy import text

import tests.backends as backends
from qbank.store.db import make_engine


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg2"])
def test_a_postgresql_url_of_either_form_runs_the_postgres_tests(monkeypatch, scheme):
    """``postgresql://`` selects psycopg2 (as make_engine does), not SQLAlchemy's psycopg 3."""
    base = backends.PG_URL.split("://", 1)[1]
    monkeypatch.setattr(backends, "PG_URL", f"{scheme}://{base}")
    with backends.postgres_schema() as url:
        assert url.startswith(f"{scheme}://")
        engine = make_engine(url)
        try:
            assert engine.dialect.driver == "psycopg2"
            with engine.connect() as connection:
                schema = connection.execute(text("SELECT current_schema()")).scalar()
            assert schema.startswith("qbank_test_")
        finally:
            engine.dispose()
