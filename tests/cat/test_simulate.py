import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import exposure_rates, simulate
from qbank.irt import make_grid, prior_log_density
from tests.cat.reference import simulate_reference

GRID = make_grid()
LOG_PRIOR = prior_log_density(GRID)
simulate_jit = jax.jit(
    simulate, static_argnames=("test_len", "select_at_true", "chunk_size", "set_aside")
)


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


def _fixed_order_pool():
    """Three items whose information order is the same at θ = 0: item 0, then 1, then 2."""
    from qbank.irt import ItemParams

    return ItemParams(jnp.array([2.0, 1.5, 1.0]), jnp.zeros(3), jnp.zeros(3))


def _at_zero(set_aside, n=20_000):
    return simulate_jit(
        jax.random.key(5), _fixed_order_pool(), jnp.array([0.5, 1.0, 1.0]), jnp.zeros(n),
        GRID, LOG_PRIOR, test_len=2, select_at_true=True, set_aside=set_aside,
    )  # fmt: skip


def test_an_item_set_aside_is_never_offered_again_in_that_test():
    """Item 0 (k 0.5) leads the walk. Under the seed's rule a simulee whose first lottery for
    item 0 failed gets item 1 and draws again for item 0 at position 2; under the set-aside
    rule (Sympson & Hetter 1985) item 0 is out for the rest of that test."""
    seed_rule = np.asarray(_at_zero(set_aside=False).administered)
    published = _at_zero(set_aside=True)
    order = np.asarray(published.administered)
    assert not np.any((order[:, 0] == 1) & (order[:, 1] == 0))
    assert np.mean((seed_rule[:, 0] == 1) & (seed_rule[:, 1] == 0)) == pytest.approx(
        0.25, abs=0.015
    )
    # P(item 0 given) = 0.5 with the set-aside rule, 0.5 + 0.5·0.5 without it.
    n = order.shape[0]
    se = np.sqrt(0.25 / n)
    assert np.mean(np.any(order == 0, axis=1)) == pytest.approx(0.5, abs=4 * se)
    assert np.mean(np.any(seed_rule == 0, axis=1)) == pytest.approx(0.75, abs=4 * se)


def test_selection_rates_count_every_item_the_walk_considered():
    """P(S): item 0 is considered by everyone, item 1 too (at position 1 after item 0 lost, or
    at position 2), item 2 only by those whose item 0 lost (given it at position 2)."""
    result = _at_zero(set_aside=True)
    se = np.sqrt(0.25 / 20_000)
    np.testing.assert_allclose(np.asarray(result.selection_rates), [1.0, 1.0, 0.5], atol=4 * se)
    assert _at_zero(set_aside=False).selection_rates is None


def test_with_k_one_the_set_aside_rule_changes_nothing(small_pool):
    """Nobody loses a lottery when every k is 1, so both rules give the same tests."""
    theta = jax.random.normal(jax.random.key(9), (64,))
    runs = [
        simulate_jit(jax.random.key(4), small_pool, jnp.ones(40), theta, GRID, LOG_PRIOR,
                     test_len=10, set_aside=flag)
        for flag in (False, True)
    ]  # fmt: skip
    np.testing.assert_array_equal(runs[0].administered, runs[1].administered)
    np.testing.assert_array_equal(runs[0].theta_hat, runs[1].theta_hat)


def test_set_aside_rates_agree_with_the_plain_python_walk():
    rng = np.random.default_rng(17)
    n_items, test_len = 25, 6
    a = np.clip(rng.lognormal(0, 0.3, n_items), 0.4, 2.5)
    b = rng.normal(size=n_items)
    c = rng.uniform(0.1, 0.25, n_items)
    k = rng.uniform(0.2, 1.0, n_items)
    from qbank.irt import ItemParams

    items = ItemParams(*(jnp.asarray(x, jnp.float32) for x in (a, b, c)))
    n_fast, n_ref = 20_000, 2_000
    theta = jax.random.normal(jax.random.key(1003), (n_fast,))
    fast = simulate_jit(jax.random.key(3), items, jnp.asarray(k, jnp.float32), theta, GRID,
                        LOG_PRIOR, test_len=test_len, set_aside=True)  # fmt: skip
    considered = np.zeros(n_items)
    ref_admin, _ = simulate_reference(
        rng, a, b, c, k, rng.normal(size=n_ref), test_len, set_aside=True, considered=considered
    )
    for fast_rates, ref_rates in (
        (np.asarray(exposure_rates(fast.administered, n_items)),
         np.bincount(ref_admin.ravel(), minlength=n_items) / n_ref),
        (np.asarray(fast.selection_rates), considered / n_ref),
    ):  # fmt: skip
        pooled = (fast_rates * n_fast + ref_rates * n_ref) / (n_fast + n_ref)
        standard_error = np.sqrt(pooled * (1 - pooled) * (1 / n_fast + 1 / n_ref))
        assert np.all(np.abs(fast_rates - ref_rates) <= 4 * standard_error + 1e-3), (
            fast_rates,
            ref_rates,
        )


def test_conditional_k_takes_the_row_of_the_true_or_the_estimated_stratum():
    """Two strata cut at 0. Stratum 1 only accepts item 2; stratum 0 accepts everything. By true
    θ, simulees at θ = +1 all start with item 2 and those at −1 with the most informative item;
    by θ̂, everyone starts in stratum 1 (θ̂ = 0 before any answer) and gets item 2."""
    k = jnp.array([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    theta = jnp.concatenate([jnp.full(500, -1.0), jnp.full(500, 1.0)])

    def first_items(by_estimate):
        result = simulate_jit(
            jax.random.key(2), _fixed_order_pool(), k, theta, GRID, LOG_PRIOR, test_len=1,
            select_at_true=not by_estimate, strata_edges=jnp.array([0.0]),
            stratum_by_estimate=by_estimate,
        )  # fmt: skip
        return np.asarray(result.administered[:, 0])

    by_true = first_items(False)
    assert set(by_true[500:]) == {2}
    assert 2 not in set(by_true[:500])
    assert set(first_items(True)) == {2}
