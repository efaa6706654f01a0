import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import exposure_rates, simulate
from qbank.irt import make_grid, prior_log_density
from tests.cat.reference import simulate_reference

GRID = make_grid()
LOG_PRIOR = prior_log_density(GRID)
simulate_jit = jax.jit(simulate, static_argnames=("test_len", "select_at_true", "chunk_size"))


def run(items, k, n, test_len, seed=0, select_at_true=False, chunk_size=None):
    theta = jax.random.normal(jax.random.key(seed + 1000), (n,))
    return simulate_jit(
        jax.random.key(seed),
        items,
        jnp.asarray(k, jnp.float32),
        theta,
        GRID,
        LOG_PRIOR,
        test_len=test_len,
        select_at_true=select_at_true,
        chunk_size=chunk_size,
    )


def test_no_item_is_given_twice(small_pool):
    result = run(small_pool, jnp.full(40, 0.5), n=300, test_len=20)
    administered = np.asarray(result.administered)
    assert administered.shape == (300, 20)
    assert all(len(set(row)) == 20 for row in administered)


def test_test_may_use_the_whole_pool(small_pool):
    administered = np.asarray(run(small_pool, jnp.ones(40), n=5, test_len=40).administered)
    assert all(sorted(row) == list(range(40)) for row in administered)


def test_same_key_same_result_whatever_the_chunk(small_pool):
    first = run(small_pool, jnp.full(40, 0.4), n=101, test_len=10, chunk_size=16)
    second = run(small_pool, jnp.full(40, 0.4), n=101, test_len=10, chunk_size=64)
    np.testing.assert_array_equal(first.administered, second.administered)
    np.testing.assert_array_equal(first.theta_hat, second.theta_hat)
    other = run(small_pool, jnp.full(40, 0.4), n=101, test_len=10, seed=1)
    assert not np.array_equal(first.administered, other.administered)


def test_posterior_sd_shrinks_as_the_test_goes_on(small_pool):
    result = run(small_pool, jnp.ones(40), n=500, test_len=15)
    mean_sd = np.asarray(result.posterior_sd).mean(axis=0)
    assert np.all(np.diff(mean_sd) < 0)
    assert mean_sd[0] < 1.0


def test_without_exposure_control_everyone_gets_the_same_first_item(small_pool):
    administered = np.asarray(run(small_pool, jnp.ones(40), n=200, test_len=3).administered)
    assert len(set(administered[:, 0])) == 1


@pytest.mark.parametrize("select_at_true", [False, True])
def test_vectorised_simulation_agrees_with_plain_python_reference(select_at_true):
    rng = np.random.default_rng(7)
    n_items, test_len = 25, 6
    a = np.clip(rng.lognormal(0, 0.3, n_items), 0.4, 2.5)
    b = rng.normal(size=n_items)
    c = rng.uniform(0.1, 0.25, n_items)
    k = rng.uniform(0.2, 1.0, n_items)
    items = tuple(jnp.asarray(x, jnp.float32) for x in (a, b, c))
    from qbank.irt import ItemParams

    n_fast, n_ref = 20_000, 2_000
    fast = run(
        ItemParams(*items), k, n=n_fast, test_len=test_len, seed=3, select_at_true=select_at_true
    )
    fast_rates = np.asarray(exposure_rates(fast.administered, n_items))
    ref_admin, ref_theta_hat = simulate_reference(
        rng, a, b, c, k, rng.normal(size=n_ref), test_len, select_at_true
    )
    ref_rates = np.bincount(ref_admin.ravel(), minlength=n_items) / n_ref
    pooled = (fast_rates * n_fast + ref_rates * n_ref) / (n_fast + n_ref)
    standard_error = np.sqrt(pooled * (1 - pooled) * (1 / n_fast + 1 / n_ref))
    assert np.all(np.abs(fast_rates - ref_rates) <= 4 * standard_error + 1e-3), (
        fast_rates,
        ref_rates,
    )
    # θ̂ spreads alike: the SD of the final estimates agrees within a few percent.
    fast_sd = float(np.std(np.asarray(fast.theta_hat[:, -1])))
    assert fast_sd == pytest.approx(float(np.std(ref_theta_hat)), rel=0.08)
