import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import choose_next_item
from qbank.cat.delivery import choose_item, estimate_ability
from qbank.errors import InvalidInputError
from qbank.irt import ItemParams, eap_estimate, make_grid, prior_log_density, update_log_posterior


@pytest.mark.parametrize("n_items", [5, 64, 100])
def test_padded_vanilla_choice_matches_the_core(n_items):
    rng = np.random.default_rng(n_items)
    a, b, c = rng.uniform(0.5, 2, n_items), rng.normal(size=n_items), rng.uniform(0, 0.25, n_items)
    available = rng.random(n_items) < 0.7
    available[0] = True
    items = ItemParams(*(jnp.asarray(x, jnp.float32) for x in (a, b, c)))
    for theta in (-1.5, 0.0, 0.8):
        core = int(choose_next_item(jax.random.key(0), items, available, theta, np.ones(n_items)))
        assert choose_item(1, a, b, c, np.ones(n_items), available, theta, "vanilla") == core


def test_sh_choice_never_takes_a_k_zero_item_while_others_are_accepted():
    a, b, c = np.ones(10), np.linspace(-1, 1, 10), np.zeros(10)
    k = np.where(np.arange(10) < 5, 0.0, 1.0)
    chosen = {choose_item(seed, a, b, c, k, np.ones(10, bool), 0.0, "sympson_hetter")
              for seed in range(50)}  # fmt: skip
    assert chosen <= set(range(5, 10))
    only_zero = np.arange(10) < 5
    assert choose_item(3, a, b, c, k, only_zero, 0.0, "sympson_hetter") in range(5)


def test_batch_estimate_matches_sequential_updates():
    a, b, c = [1.2, 0.7, 1.9, 1.0], [-0.5, 0.3, 1.1, 0.0], [0.2, 0.1, 0.25, 0.0]
    correct = [1, 0, 1, 1]
    grid = make_grid()
    log_post = prior_log_density(grid)
    for args in zip(correct, a, b, c, strict=True):
        log_post = update_log_posterior(log_post, grid, *args)
    expected = eap_estimate(log_post, grid)
    estimate = estimate_ability(a, b, c, correct)
    assert estimate.theta == pytest.approx(float(expected.theta_hat), abs=1e-5)
    assert estimate.se == pytest.approx(float(expected.posterior_sd), abs=1e-5)
    assert estimate_ability([], [], [], []).se == pytest.approx(1.0, abs=1e-3)


def test_bad_requests_are_refused():
    with pytest.raises(InvalidInputError, match="selector"):
        choose_item(0, [1], [0], [0], [1], [True], 0.0, "random")
    with pytest.raises(InvalidInputError, match="no item"):
        choose_item(0, [1], [0], [0], [1], [False], 0.0, "vanilla")
