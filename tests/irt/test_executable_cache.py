"""Compiled programs on disk: a new process (here: an emptied memory) runs them untraced."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.irt import MmlSettings, calibrate_mml, lsat7
from qbank.irt import executable_cache as cache

TRACES: list[int] = []


@partial(jax.jit, static_argnames=("power",))
def _scaled_power(x, scale, power):
    TRACES.append(power)  # runs only while JAX traces
    return scale * x**power


@pytest.fixture
def cache_dir(tmp_path):
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    cache.clear_memory()
    yield tmp_path / "qbank-executables"
    cache.clear_memory()
    jax.config.update("jax_compilation_cache_dir", before)


@pytest.fixture
def compiles(monkeypatch):
    """The programs compiled (not loaded) through the cache."""
    made = []
    real = cache._compile_and_save

    def spy(function, path, args, static):
        made.append(static)
        return real(function, path, args, static)

    monkeypatch.setattr(cache, "_compile_and_save", spy)
    return made


def test_a_saved_program_runs_without_compiling_and_gives_the_same_numbers(cache_dir, compiles):
    TRACES.clear()
    x = jnp.arange(4.0)
    first = cache.cached_call(_scaled_power, x, jnp.float32(2.0), power=3)
    assert TRACES == [3]
    assert compiles == [{"power": 3}]
    assert len(list(cache_dir.glob("*.pkl"))) == 1
    cache.clear_memory()  # as a new process would start
    again = cache.cached_call(_scaled_power, x, jnp.float32(2.0), power=3)
    assert compiles == [{"power": 3}]
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(again, 2.0 * np.arange(4.0) ** 3)
    # Another static argument or shape is another program.
    cache.cached_call(_scaled_power, jnp.arange(5.0), jnp.float32(2.0), power=3)
    cache.cached_call(_scaled_power, x, jnp.float32(2.0), power=2)
    assert TRACES == [3, 3, 2]
    assert len(list(cache_dir.glob("*.pkl"))) == 3


def test_a_damaged_file_is_compiled_anew_and_replaced(cache_dir, compiles):
    x = jnp.arange(3.0)
    cache.cached_call(_scaled_power, x, jnp.float32(1.0), power=2)
    (path,) = cache_dir.glob("*.pkl")
    path.write_bytes(b"not a program")
    cache.clear_memory()
    result = cache.cached_call(_scaled_power, x, jnp.float32(1.0), power=2)
    np.testing.assert_array_equal(result, [0.0, 1.0, 4.0])
    assert compiles == [{"power": 2}, {"power": 2}]
    assert path.read_bytes() != b"not a program"


def test_without_a_cache_dir_nothing_is_written(tmp_path):
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        result = cache.cached_call(_scaled_power, jnp.arange(3.0), jnp.float32(1.0), power=4)
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
    np.testing.assert_array_equal(result, [0.0, 1.0, 16.0])
    assert not list(tmp_path.iterdir())


def test_the_fit_from_saved_programs_equals_the_fit_from_fresh_ones(cache_dir, compiles):
    responses, weights = lsat7()
    settings = MmlSettings(model="2pl")
    fresh = calibrate_mml(responses, weights=weights, settings=settings)
    assert {p.name.split("-")[0] for p in cache_dir.glob("*.pkl")} == {"em_cycle", "finish"}
    cache.clear_memory()
    del compiles[:]
    loaded = calibrate_mml(responses, weights=weights, settings=settings)
    for one, other in (
        (fresh.items, loaded.items),
        (fresh.standard_errors, loaded.standard_errors),
    ):
        for x, y in zip(one, other, strict=True):
            np.testing.assert_array_equal(x, y)
    assert fresh.history == loaded.history
    assert compiles == []
