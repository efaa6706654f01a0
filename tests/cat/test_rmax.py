"""The r_max exposure cap of a design (catR's "restricted" method) in the vectorised simulation.

catR updates the exposure rates examinee by examinee; the simulation does it wave by wave
(``simulate.R_MAX_WAVES``): items at a rate ≥ r_max among the earlier waves are masked out of
the next wave, so the final maximum exposure is at most r_max + (1 − r_max)·w/n for waves of w.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import TestDesign, simulate, synthetic_pool
from qbank.errors import InvalidInputError
from qbank.irt import make_grid, prior_log_density

N_ITEMS, N, MAX_LEN = 80, 400, 8


def _design(r_max: float | None, **stopping: float) -> TestDesign:
    exposure = {"method": "none"} if r_max is None else {"method": "r_max", "r_max": r_max}
    stop = {"max_len": MAX_LEN, **stopping}
    return TestDesign.from_json({"exposure": exposure, "stopping": stop})


def _run(design: TestDesign, seed: int = 0, waves: int = 8, n: int = N,
         chunk: int | None = None) -> np.ndarray:  # fmt: skip
    items = synthetic_pool(jax.random.key(0), N_ITEMS)
    grid = make_grid()
    theta = jax.random.normal(jax.random.key(1), (n,))
    result = simulate(
        jax.random.key(seed), items, jnp.ones(N_ITEMS), theta, grid, prior_log_density(grid),
        MAX_LEN, design=design, r_max_waves=waves, chunk_size=chunk,
    )  # fmt: skip
    return np.asarray(result.administered)


def _counts(administered: np.ndarray) -> np.ndarray:
    given = administered[administered >= 0]
    return np.bincount(given, minlength=N_ITEMS).astype(float)


def test_the_design_reads_and_writes_r_max():
    design = TestDesign.from_json({"exposure": {"method": "r_max", "r_max": 0.25}})
    assert (design.exposure, design.r_max, design.uses_lottery) == ("r_max", 0.25, False)
    assert design.as_json()["exposure"] == {"method": "r_max", "strata_edges": [], "r_max": 0.25}
    assert TestDesign.from_json(design.as_json()) == design


@pytest.mark.parametrize(
    "exposure",
    [
        {"method": "r_max"},
        {"method": "r_max", "r_max": 0},
        {"method": "r_max", "r_max": 1.5},
        {"method": "r_max", "r_max": "0.2"},
        {"method": "r_max", "r_max": True},
        {"method": "sympson_hetter", "r_max": 0.2},
    ],
)
def test_bad_r_max_is_refused_naming_the_field(exposure):
    with pytest.raises(InvalidInputError, match=r"exposure\.r_max"):
        TestDesign.from_json({"exposure": exposure})


@pytest.mark.parametrize("r_max", [0.15, 0.3])
def test_max_exposure_ends_within_one_wave_of_r_max(r_max):
    administered = _run(_design(r_max))
    uncapped = _counts(_run(_design(None))).max() / N
    wave = N / 8
    assert uncapped > r_max + (1 - r_max) * wave / N  # max information alone would exceed it
    assert _counts(administered).max() / N <= r_max + (1 - r_max) * wave / N + 1e-9
    assert (administered >= 0).all()  # every test still has its max_len items
    assert all(len(set(row)) == MAX_LEN for row in administered.tolist())


def test_each_wave_skips_the_items_at_the_cap_among_the_waves_before():
    r_max, waves = 0.2, 8
    administered = _run(_design(r_max), waves=waves)
    wave = N // waves
    counts = np.zeros(N_ITEMS)
    for start in range(0, N, wave):
        given = _counts(administered[start : start + wave])
        if start:
            at_cap = counts / start >= r_max
            assert not (given[at_cap] > 0).any()
        counts += given


def test_a_smaller_r_max_lowers_the_max_exposure_and_a_seed_repeats():
    loose, tight = _counts(_run(_design(0.4))).max(), _counts(_run(_design(0.12))).max()
    assert tight < loose
    np.testing.assert_array_equal(_run(_design(0.2), seed=5), _run(_design(0.2), seed=5))
    assert not np.array_equal(_run(_design(0.2), seed=5), _run(_design(0.2), seed=6))


def test_one_wave_is_no_cap_and_the_cap_is_lifted_when_it_leaves_nothing():
    # One wave sees no earlier examinee: it is the uncapped design (both on the design step:
    # an SE rule that never fires keeps the uncapped one off today's fast path).
    np.testing.assert_array_equal(
        _run(_design(0.1, se=0.001), waves=1), _run(_design(None, se=0.001), waves=1)
    )
    # r_max · pool < max_len: every item reaches the cap, yet tests keep their length.
    administered = _run(_design(0.05), waves=8)
    assert (administered >= 0).all()
    assert all(len(set(row)) == MAX_LEN for row in administered.tolist())


def test_uneven_waves_drop_the_padded_simulees():
    administered = _run(_design(0.2), waves=7, n=333)
    assert administered.shape == (333, MAX_LEN)
    assert _counts(administered).max() / 333 <= 0.2 + 0.8 * 48 / 333 + 1e-9


def test_a_chunk_that_does_not_divide_the_wave_keeps_each_wave_to_its_share():
    # Waves of 50 in chunks of 32 run as 64 slots a wave: the 14 padded slots of each wave are
    # its own, so no wave takes more than 50 simulees and the bound holds as stated.
    r_max, waves, n = 0.2, 8, 400
    administered = _run(_design(r_max), waves=waves, n=n, chunk=32)
    wave = n // waves
    counts = np.zeros(N_ITEMS)
    for start in range(0, n, wave):
        given = _counts(administered[start : start + wave])
        if start:
            assert not (given[counts / start >= r_max] > 0).any()
        counts += given
    assert counts.max() / n <= r_max + (1 - r_max) * wave / n + 1e-9
    # the same simulees, the same tests, whatever the chunk
    np.testing.assert_array_equal(administered, _run(_design(r_max), waves=waves, n=n, chunk=50))
