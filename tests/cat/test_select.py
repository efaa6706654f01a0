import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import (
    select_sympson_hetter,
    select_sympson_hetter_batch,
    select_vanilla,
    select_vanilla_batch,
)

INFO = jnp.array([0.5, 3.0, 1.0, 2.0, 0.1])  # order by information: 1, 3, 2, 0, 4
ALL = jnp.ones(5, bool)


def test_vanilla_takes_most_informative_available():
    assert int(select_vanilla(INFO, ALL)) == 1
    assert int(select_vanilla(INFO, ALL.at[1].set(False))) == 3


def test_vanilla_ties_go_to_lowest_index():
    assert int(select_vanilla(jnp.array([1.0, 2.0, 2.0, 0.0]), jnp.ones(4, bool))) == 1


def test_sh_with_k_one_is_vanilla():
    for seed in range(20):
        assert int(select_sympson_hetter(jax.random.key(seed), INFO, ALL, jnp.ones(5))) == 1


def test_sh_takes_most_informative_when_all_rejected():
    available = ALL.at[1].set(False)
    for seed in range(20):
        chosen = select_sympson_hetter(jax.random.key(seed), INFO, available, jnp.zeros(5))
        assert int(chosen) == 3


def test_sh_never_takes_unavailable_items():
    available = jnp.array([True, False, True, False, True])
    keys = jax.random.split(jax.random.key(0), 500)
    chosen = jax.vmap(select_sympson_hetter, in_axes=(0, None, None, None))(
        keys, INFO, available, jnp.full(5, 0.5)
    )
    assert set(np.unique(np.asarray(chosen))) <= {0, 2, 4}


def test_sh_lottery_frequencies_match_the_walk():
    """Walking by descending information, item j is taken with k_j·Π_{i before j}(1 − k_i);
    if every lottery fails the most informative is taken."""
    k = jnp.array([0.6, 0.3, 0.5, 0.4, 0.9])
    order = [1, 3, 2, 0, 4]
    expected = np.zeros(5)
    none_accepted = 1.0
    for item in order:
        expected[item] = none_accepted * float(k[item])
        none_accepted *= 1 - float(k[item])
    expected[order[0]] += none_accepted
    n_draws = 40_000
    keys = jax.random.split(jax.random.key(123), n_draws)
    chosen = jax.vmap(select_sympson_hetter, in_axes=(0, None, None, None))(keys, INFO, ALL, k)
    observed = np.bincount(np.asarray(chosen), minlength=5) / n_draws
    standard_error = np.sqrt(expected * (1 - expected) / n_draws)
    assert np.all(np.abs(observed - expected) <= 4 * standard_error + 1e-9), (observed, expected)


def test_batched_selection_matches_single():
    info = jax.random.uniform(jax.random.key(1), (6, 5))
    available = jax.random.uniform(jax.random.key(2), (6, 5)) < 0.7
    available = available.at[:, 0].set(True)
    vanilla = select_vanilla_batch(info, available)
    for row in range(6):
        assert int(vanilla[row]) == int(select_vanilla(info[row], available[row]))
    k = jnp.full(5, 0.5)
    batch = select_sympson_hetter_batch(jax.random.key(3), info, available, k)
    keys = jax.random.split(jax.random.key(3), 6)
    for row in range(6):
        single = select_sympson_hetter(keys[row], info[row], available[row], k)
        assert int(batch[row]) == int(single)


@pytest.mark.parametrize("n_items", [7, 1000])
def test_sh_lottery_uniforms_are_uniform(n_items):
    from qbank.cat.exposure.lottery_rng import hashed_uniforms

    words = jax.random.bits(jax.random.key(5), (4000,), jnp.uint32)
    uniforms = np.asarray(hashed_uniforms(words, n_items))
    assert uniforms.min() >= 0
    assert uniforms.max() < 1
    assert abs(uniforms.mean() - 0.5) < 4 * np.sqrt(1 / 12 / uniforms.size)
    per_item_mean = uniforms.mean(axis=0)  # no item is systematically favoured
    assert np.all(np.abs(per_item_mean - 0.5) < 5 * np.sqrt(1 / 12 / 4000))
    first, second = uniforms[:, 0], uniforms[:, 1]
    assert abs(np.corrcoef(first, second)[0, 1]) < 4 / np.sqrt(4000)


def _items():
    from qbank.irt import ItemParams

    return ItemParams(
        jnp.array([1.0, 1.5, 1.2, 0.8]), jnp.array([-2.0, 0.0, 1.0, 2.0]), jnp.full(4, 0.2)
    )


def test_choose_next_item_uses_information_at_theta_hat():
    from qbank.cat import choose_next_item

    items, everything = _items(), jnp.ones(4, bool)
    key = jax.random.key(0)
    assert int(choose_next_item(key, items, everything, -2.0, jnp.ones(4))) == 0
    assert int(choose_next_item(key, items, everything, 0.1, jnp.ones(4))) == 1
    assert int(choose_next_item(key, items, everything, 2.2, jnp.ones(4))) == 3
    without_1 = everything.at[1].set(False)
    assert int(choose_next_item(key, items, without_1, 0.1, jnp.ones(4))) == 2  # b = 1 beats b = −2
    chosen = {
        int(
            choose_next_item(
                jax.random.key(s), items, everything, 0.1, jnp.full(4, 0.5), "sympson_hetter"
            )
        )
        for s in range(40)
    }
    assert len(chosen) > 1  # the lottery spreads choices


def test_choose_next_items_batches_examinees():
    from qbank.cat import choose_next_items

    chosen = choose_next_items(
        jax.random.key(0),
        _items(),
        jnp.ones((3, 4), bool),
        jnp.array([-2.0, 0.1, 2.2]),
        jnp.ones(4),
    )
    assert chosen.tolist() == [0, 1, 3]


def test_choose_refuses_unknown_selector_and_empty_pool():
    from qbank.cat import choose_next_item
    from qbank.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="selector"):
        choose_next_item(jax.random.key(0), _items(), jnp.ones(4, bool), 0.0, jnp.ones(4), "x")
    with pytest.raises(InvalidInputError, match="no item is available"):
        choose_next_item(jax.random.key(0), _items(), jnp.zeros(4, bool), 0.0, jnp.ones(4))
