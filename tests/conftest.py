import pytest
from hypothesis import settings

settings.register_profile("qbank", deadline=None, max_examples=60)
settings.load_profile("qbank")


@pytest.fixture(scope="session")
def small_pool():
    import jax

    from qbank.cat import synthetic_pool

    return synthetic_pool(jax.random.key(11), 40)


BACKENDS = ["embedded", "postgres"]


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A fresh, empty database on each backend."""
    if request.param == "embedded":
        yield f"sqlite:///{tmp_path / 'qbank.db'}"
        return
    from tests.backends import postgres_schema

    with postgres_schema() as url:
        yield url


@pytest.fixture
def engine(database_url):
    from qbank.store.db import init_schema, make_engine

    engine = make_engine(database_url)
    init_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine):
    from qbank.store.db import make_session_factory

    return make_session_factory(engine)


@pytest.fixture
def slow_login_backoff(monkeypatch):
    """The first backoff after the free attempts lasts a minute, not a second, so a test that
    expects it still to hold is not undone by a loaded machine (each attempt hashes a password).
    The backoff's doubling is tested on its own with a fake clock (tests/services/test_throttle.py).
    """
    from qbank.services.access import throttle

    monkeypatch.setattr(throttle, "ACCOUNT_POLICY", throttle.Policy(free=5, base_s=60.0))
    monkeypatch.setattr(throttle, "ADDRESS_POLICY", throttle.Policy(free=20, base_s=60.0))
