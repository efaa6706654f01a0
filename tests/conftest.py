import pytest
from hypothesis import settings

settings.register_profile("qbank", deadline=None, max_examples=60)
settings.load_profile("qbank")


@pytest.fixture(scope="session")
def small_pool():
    import jax

    from qbank.cat import synthetic_pool

    return synthetic_pool(jax.random.key(11), 40)
