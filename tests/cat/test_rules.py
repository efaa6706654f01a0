"""next_item and the rules of cat/select against catR (catr_reference.json) and numpy.

catR's per-item criterion values are compared, not only its choice. MLWI, MPWI, KL and KLP are
unnormalised integrals in catR and are scaled by the largest weight in QBank (the ranking is the
same), so they are compared after division by their maximum; both integrate by the trapezoid
rule on the same 61 points, so float32 rounding (1e-4 relative) is the tolerance. MEPV and MFI
are compared as they are.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import (
    RULES,
    SelectionContext,
    next_item,
    rule_scorer,
    selection_context,
    under_exposure_cap,
)
from qbank.cat.exposure.sympson_hetter import ranked_lottery_score
from qbank.cat.select.a_stratified import b_blocked_strata, current_stratum
from qbank.cat.select.progressive import progressive_weight
from qbank.cat.select.randomesque import randomesque_candidates
from qbank.errors import InvalidInputError
from qbank.irt import ItemParams, estimate_theta, information
from qbank.irt.eap import make_grid, prior_log_density

REFERENCE = json.loads((Path(__file__).parent / "catr_reference.json").read_text())
POOL = ItemParams(*(np.asarray(REFERENCE["pool"][name], np.float32) for name in "abc"))
N_ITEMS = POOL.a.shape[0]
CRITERIA = [s for s in REFERENCE["selections"] if "criterion" in s]
RELATIVE = ("mlwi", "mpwi", "kl", "klp")


def _case_id(case) -> str:
    return f"{case['situation']}-{case['rule']}"


def _context(administered, responses, theta_hat, word=0) -> SelectionContext:
    given = ItemParams(*(jnp.asarray(x)[np.asarray(administered, int)] for x in POOL))
    grid = make_grid()
    return selection_context(
        given,
        jnp.asarray(responses, jnp.int32),
        jnp.ones(len(administered), bool),
        theta_hat,
        grid,
        prior_log_density(grid),
        jnp.uint32(word),
    )


def _available(administered) -> np.ndarray:
    available = np.ones(N_ITEMS, bool)
    available[list(administered)] = False
    return available


@pytest.mark.parametrize("case", CRITERIA, ids=_case_id)
def test_rule_picks_catr_item(case):
    chosen = next_item(
        POOL, case["administered"], case["responses"], case["rule"], theta_hat=case["theta_hat"]
    )
    assert chosen == case["item"]


@pytest.mark.parametrize("case", CRITERIA, ids=_case_id)
def test_rule_scores_match_catr_criterion(case):
    available = _available(case["administered"])
    context = _context(case["administered"], case["responses"], case["theta_hat"])
    scores = np.asarray(rule_scorer(case["rule"], POOL)(POOL, context, jnp.asarray(available)))
    assert np.all(np.isneginf(scores[~available]))
    expected = np.asarray(case["criterion"])[available]
    got = scores[available]
    if case["rule"] in RELATIVE:
        # KL of items near θ̂ cancels in float32: an absolute floor of 1e-5 of the largest.
        np.testing.assert_allclose(got / got.max(), expected / expected.max(), rtol=2e-4, atol=1e-5)
    elif case["rule"] == "mepv":
        np.testing.assert_allclose(-got, expected, rtol=2e-4)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_default_theta_hat_is_the_map_estimate():
    administered, responses = [0, 3, 9], [0, 0, 0]
    theta_map = float(estimate_theta(ItemParams(*(x[administered] for x in POOL)), responses, "map")
                      .theta_hat)  # fmt: skip
    for rule in ("mfi", "kl", "mepv"):
        assert next_item(POOL, administered, responses, rule) == next_item(
            POOL, administered, responses, rule, theta_hat=theta_map
        )
    # The MAP estimate of these responses is about −1.0: MFI must not pick as at θ̂ = 0.
    assert next_item(POOL, administered, responses, "mfi") != next_item(
        POOL, administered, responses, "mfi", theta_hat=0.0
    )


@pytest.mark.parametrize(
    "case", [s for s in REFERENCE["selections"] if s["rule"] == "randomesque"], ids=_case_id
)
def test_randomesque_draws_among_catr_candidates(case):
    picks = {
        next_item(POOL, case["administered"], case["responses"], "randomesque",
                  theta_hat=case["theta_hat"], key=jax.random.key(seed), randomesque=3)
        for seed in range(60)
    }  # fmt: skip
    assert picks == set(case["candidates"])


def test_randomesque_option_works_over_any_rule():
    scores = jnp.array([0.5, 3.0, -jnp.inf, 2.0, 2.0, 1.0])
    assert np.asarray(randomesque_candidates(scores, 2)).tolist() == [0, 1, 0, 1, 1, 0]
    assert np.asarray(randomesque_candidates(scores, 9)).tolist() == [1, 1, 0, 1, 1, 1]
    picks = {
        next_item(POOL, [0], [1], "kl", key=jax.random.key(seed), randomesque=2)
        for seed in range(40)
    }
    context = _context([0], [1], float(estimate_theta(ItemParams(*(x[[0]] for x in POOL)), [1],
                                                       "map").theta_hat))  # fmt: skip
    kl = np.asarray(rule_scorer("kl", POOL)(POOL, context, jnp.asarray(_available([0]))))
    assert picks == set(np.argsort(-kl)[:2].tolist())


@pytest.mark.parametrize(
    "case", [s for s in REFERENCE["selections"] if s["rule"] == "progressive"], ids=_case_id
)
def test_progressive_last_position_is_catr_choice(case):
    chosen = next_item(
        POOL, case["administered"], case["responses"], "progressive",
        theta_hat=case["theta_hat"], key=jax.random.key(3), test_len=case["test_len"],
    )  # fmt: skip
    assert chosen == case["item"]


def test_progressive_weight_follows_barrada_et_al():
    # w = Σ_{f ≤ t} f^AP / Σ_{f ≤ L−1} f^AP; L = 5: denominators 4 (AP 0), 10 (AP 1), 30 (AP 2).
    cases = [(0, 0, 0, 0), (1, 0.25, 0.1, 1 / 30), (3, 0.75, 0.6, 14 / 30), (4, 1, 1, 1),
             (6, 1, 1, 1)]  # fmt: skip
    for t, linear, catr, quadratic in cases:
        assert float(progressive_weight(jnp.int32(t), 5, 0.0)) == pytest.approx(linear)
        assert float(progressive_weight(jnp.int32(t), 5, 1.0)) == pytest.approx(catr)
        assert float(progressive_weight(jnp.int32(t), 5, 2.0)) == pytest.approx(quadratic)


def test_progressive_score_mixes_information_and_uniforms():
    from qbank.cat.exposure.lottery_rng import hashed_uniforms

    available = _available([1, 2])
    word = jnp.uint32(0xC0FFEE)
    context = _context([1, 2], [1, 0], 0.3, word=word)
    scores = np.asarray(
        rule_scorer("progressive", POOL, test_len=6)(POOL, context, jnp.asarray(available))
    )
    info = np.asarray(information(0.3, *POOL))
    uniforms = np.asarray(hashed_uniforms(word, N_ITEMS))
    weight = 3 / 15  # t = 2 of L = 6 with AP = 1: (1 + 2) / (1 + 2 + 3 + 4 + 5)
    expected = weight * info + (1 - weight) * uniforms * info[available].max()
    np.testing.assert_allclose(scores[available], expected[available], rtol=1e-5)
    # The first item is random over the whole pool.
    firsts = {next_item(POOL, [], [], "progressive", key=jax.random.key(s)) for s in range(80)}
    assert len(firsts) >= 10


def test_astrat_strata_are_the_b_blocked_strata_of_the_paper():
    astrat = REFERENCE["astrat"]
    strata = np.asarray(b_blocked_strata(POOL, astrat["n_strata"]))
    assert strata.tolist() == astrat["strata"]
    # Every stratum spans the b range; a rises with the stratum within each block of b.
    order = np.argsort(POOL.b, kind="stable")
    for block in order.reshape(-1, 4):
        assert np.all(np.diff(POOL.a[block][np.argsort(strata[block])]) >= 0)


@pytest.mark.parametrize("case", REFERENCE["astrat"]["cases"], ids=lambda c: c["situation"])
def test_astrat_picks_catr_bopt_within_stratum(case):
    situation = next(s for s in CRITERIA if s["situation"] == case["situation"])
    astrat = REFERENCE["astrat"]
    chosen = next_item(
        POOL, situation["administered"], situation["responses"], "astrat",
        theta_hat=case["theta_hat"], test_len=astrat["test_len"], n_strata=astrat["n_strata"],
    )  # fmt: skip
    assert chosen == case["item"]
    assert int(current_stratum(jnp.int32(len(situation["administered"])), 4, 8)) == case["stratum"]


def test_astrat_falls_back_to_other_strata_when_its_stratum_is_used_up():
    strata = np.asarray(b_blocked_strata(POOL, 4))
    first_stratum = np.flatnonzero(strata == 0).tolist()
    chosen = next_item(POOL, first_stratum[:3], [1, 0, 1][: len(first_stratum[:3])], "astrat",
                       theta_hat=0.0, test_len=40, n_strata=4)  # fmt: skip
    assert chosen == first_stratum[3]
    chosen = next_item(POOL, first_stratum, [1, 0, 1, 0], "astrat", theta_hat=0.0, test_len=40)
    assert chosen not in first_stratum
    rest = np.setdiff1d(np.arange(N_ITEMS), first_stratum)
    assert chosen == rest[np.argmin(np.abs(POOL.b[rest]))]


@pytest.mark.parametrize("rule", list(RULES))
def test_no_rule_returns_an_administered_item(rule):
    rng = np.random.default_rng(7)
    for trial in range(6):
        administered = rng.choice(N_ITEMS, size=N_ITEMS - 1 - trial, replace=False).tolist()
        responses = rng.integers(0, 2, len(administered)).tolist()
        chosen = next_item(POOL, administered, responses, rule, key=jax.random.key(trial))
        assert chosen not in administered
        assert 0 <= chosen < N_ITEMS


def test_rules_vmap_over_simulees():
    """The scoring signature runs batched: one vmap over contexts equals the loop."""
    grid = make_grid()
    histories = [([0, 3], [1, 0], 0.2), ([5, 6], [1, 1], 1.1), ([7, 9], [0, 0], -1.3)]
    contexts = [_context(*history) for history in histories]
    batch = jax.tree.map(lambda *xs: jnp.stack(xs), *contexts)
    available = jnp.asarray(np.stack([_available(h[0]) for h in histories]))
    assert batch.grid.shape == (3, grid.shape[0])
    for rule in RULES:
        scorer = (
            rule_scorer(rule, POOL, test_len=10) if RULES[rule].options else rule_scorer(rule, POOL)
        )
        batched = jax.jit(jax.vmap(scorer, in_axes=(None, 0, 0)))(POOL, batch, available)
        for row, context in enumerate(contexts):
            one = np.asarray(scorer(POOL, context, available[row]))
            scale = np.abs(one[np.isfinite(one)]).max()
            # jit and eager sum in other orders: KL's cancellation leaves ~1e-7 of the largest.
            np.testing.assert_allclose(np.asarray(batched[row]), one, rtol=1e-5, atol=1e-5 * scale)


def test_sympson_hetter_lottery_combines_with_any_rule():
    administered, responses = [0, 3], [1, 0]
    for rule in ("mfi", "kl", "mepv", "astrat"):
        best = next_item(POOL, administered, responses, rule)
        assert next_item(POOL, administered, responses, rule, key=jax.random.key(1),
                         k=np.ones(N_ITEMS)) == best  # fmt: skip
        k = np.ones(N_ITEMS)
        k[best] = 0.0
        picks = {next_item(POOL, administered, responses, rule, key=jax.random.key(s), k=k)
                 for s in range(10)}  # fmt: skip
        assert best not in picks
    # Every lottery lost: the best available item of the rule (DESIGN.md's fallback).
    all_lost = next_item(POOL, administered, responses, "mepv", key=jax.random.key(2),
                         k=np.zeros(N_ITEMS))  # fmt: skip
    assert all_lost == next_item(POOL, administered, responses, "mepv")


def test_ranked_lottery_score_keeps_the_order_of_rejected_items():
    scores = jnp.array([-0.3, -0.1, -0.2, -jnp.inf, -0.05])
    available = jnp.array([True, True, True, False, True])
    out = np.asarray(ranked_lottery_score(scores, available, jnp.array([1, 0, 0, 1, 0], bool)))
    assert int(np.argmax(out)) == 0
    assert np.isneginf(out[3])
    assert out[4] > out[1] > out[2]
    assert out[2] < out[0]


def test_set_aside_and_rmax_cap_remove_items_from_any_rule():
    best = next_item(POOL, [], [], "mpwi")
    assert next_item(POOL, [], [], "mpwi", set_aside=[best]) != best
    rates = np.zeros(N_ITEMS)
    rates[best] = 0.3
    assert next_item(POOL, [], [], "mpwi", exposure_rates=rates, r_max=0.3) != best
    assert next_item(POOL, [], [], "mpwi", exposure_rates=rates, r_max=0.31) == best
    assert np.asarray(under_exposure_cap(np.array([0.0, 0.5, 1.0]), 1.0)).all()
    assert np.asarray(under_exposure_cap(np.array([0.0, 0.5, 0.2]), 0.5)).tolist() == [1, 0, 1]
    rounded = np.float32(10) / np.float32(50)  # 10 of 50 against 0.2, in float32: at the cap
    assert np.asarray(under_exposure_cap(np.array([rounded, 0.19]), 0.2)).tolist() == [0, 1]
    tiny = np.asarray(under_exposure_cap(np.array([0.0, 1e-6]), 1e-7))  # a tiny cap still caps
    assert tiny.tolist() == [1, 0]
    # Set-aside items that leave nothing are released (exposure.set_aside).
    everything_else = [i for i in range(N_ITEMS) if i != 4]
    assert next_item(POOL, [4], [1], "mfi", set_aside=everything_else) in everything_else


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (([], [], "maxinfo"), {}, "rule must be one of"),
        (([], [], "mfi"), {"test_len": 10}, "unknown option"),
        (([], [], "randomesque"), {}, "needs a key"),
        (([], [], "progressive"), {}, "needs a key"),
        (([0, 0], [1, 1], "mfi"), {}, "administered twice"),
        (([0], [1, 0], "mfi"), {}, "one response per administered item"),
        (([99], [1], "mfi"), {}, r"in \[0, 16\)"),
        (([0], [2], "mfi"), {}, "0 or 1"),
        ((list(range(16)), [0] * 16, "mfi"), {}, "no item is available"),
        (([], [], "mfi"), {"r_max": 0.2}, "needs both"),
        (([], [], "astrat"), {"n_strata": 0}, "n_strata"),
        (([], [], "progressive"), {"acceleration": -1.0, "key": jax.random.key(0)}, "accelerat"),
        (([], [], "mfi"), {"randomesque": 0}, "randomesque must be"),
        (([], [], "mpwi"), {"prior_sd": 0.0}, "prior_sd"),
        (([], [], "mfi"), {"k": [0.5, 0.5], "key": jax.random.key(0)}, r"k must have shape"),
        (([], [], "mfi"), {"k": [1.0] * 16, "randomesque": 3, "key": jax.random.key(0)}, "either"),
    ],
)
def test_bad_requests_are_refused(args, options, message):
    with pytest.raises(InvalidInputError, match=message):
        next_item(POOL, *args, **options)
