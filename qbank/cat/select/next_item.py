"""``next_item``: the next item for one examinee by any rule, with any exposure control.

Exposure options combine with every rule that ranks items: ``k`` (the Sympson–Hetter lottery
over the rule's scores), ``set_aside`` (items that lost a lottery earlier in this test, Sympson &
Hetter's set-aside rule) and ``exposure_rates`` with ``r_max`` (catR's "restricted" cap).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from qbank.cat.argmax import first_argmax
from qbank.cat.exposure.lottery_rng import hashed_uniforms
from qbank.cat.exposure.rmax import under_exposure_cap
from qbank.cat.exposure.set_aside import lottery_candidates
from qbank.cat.exposure.sympson_hetter import ranked_lottery_score
from qbank.cat.select.context import selection_context
from qbank.cat.select.randomesque import DEFAULT_RANDOMESQUE
from qbank.cat.select.rules import RULES, choose_from_scores, rule_scorer
from qbank.errors import InvalidInputError
from qbank.irt.ability import estimate_theta
from qbank.irt.eap import make_grid
from qbank.irt.model import ItemParams

__all__ = ["next_item"]

_EXPOSURE_OPTIONS = ("k", "set_aside", "exposure_rates", "r_max")


def _check_history(
    n_items: int, administered: Sequence[int], responses: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    given = np.asarray(administered, dtype=np.int64).reshape(-1)
    answers = np.asarray(responses, dtype=np.int64).reshape(-1)
    if given.shape != answers.shape:
        raise InvalidInputError(
            f"one response per administered item: {given.size} items, {answers.size} responses"
        )
    if given.size and (given.min() < 0 or given.max() >= n_items):
        raise InvalidInputError(f"administered indices must be in [0, {n_items})")
    if np.unique(given).size != given.size:
        raise InvalidInputError("an item was administered twice")
    if not np.isin(answers, (0, 1)).all():
        raise InvalidInputError("responses must be 0 or 1")
    return given, answers


def _pool_mask(n_items: int, option: Any, name: str) -> np.ndarray:
    values = np.asarray(option)
    if values.dtype == bool and values.shape == (n_items,):
        return values
    indices = values.astype(np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= n_items):
        raise InvalidInputError(f"{name} must be item indices in [0, {n_items}) or a pool mask")
    mask = np.zeros(n_items, bool)
    mask[indices] = True
    return mask


def _available(n_items: int, given: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    given_mask = np.zeros(n_items, bool)
    given_mask[given] = True
    available = ~given_mask
    if "set_aside" in options:
        set_aside = _pool_mask(n_items, options["set_aside"], "set_aside")
        available = np.asarray(lottery_candidates(jnp.asarray(given_mask), jnp.asarray(set_aside)))
    if ("exposure_rates" in options) != ("r_max" in options):
        raise InvalidInputError("the r_max cap needs both exposure_rates and r_max")
    if "r_max" in options:
        rates = np.asarray(options["exposure_rates"], np.float32)
        r_max = float(options["r_max"])
        if rates.shape != (n_items,) or not 0 < r_max <= 1:
            raise InvalidInputError("exposure_rates must be (n_items,) and r_max in (0, 1]")
        available = available & np.asarray(under_exposure_cap(rates, r_max))
    if "k" in options and np.asarray(options["k"]).shape != (n_items,):
        raise InvalidInputError(f"k must have shape ({n_items},)")
    if not available.any():
        raise InvalidInputError("no item is available to select")
    return available


@partial(jax.jit, static_argnames=("rule", "rule_options"))
def _scores(
    rule: str,
    rule_options: tuple[tuple[str, Any], ...],
    items: ItemParams,
    given_items: ItemParams,
    answers: jax.Array,
    theta_hat: jax.Array,
    available: jax.Array,
    word: jax.Array,
    prior_mean: jax.Array,
    prior_sd: jax.Array,
) -> jax.Array:
    grid = make_grid()
    log_prior = -0.5 * ((grid - prior_mean) / prior_sd) ** 2
    mask = jnp.ones(answers.shape, bool)
    context = selection_context(given_items, answers, mask, theta_hat, grid, log_prior, word)
    scorer = rule_scorer(rule, items, **dict(rule_options))
    scores: jax.Array = scorer(items, context, available)
    return scores


def _split_options(
    rule: str, key: jax.Array | None, options: dict[str, Any]
) -> tuple[dict[str, Any], int, tuple[float, float], dict[str, Any]]:
    """The rule's own options, randomesque's n, the prior and the exposure options, checked."""
    if rule not in RULES:
        raise InvalidInputError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    options = dict(options)
    rule_options = {name: options.pop(name) for name in RULES[rule].options if name in options}
    n_best = int(options.pop("randomesque", DEFAULT_RANDOMESQUE if rule == "randomesque" else 1))
    prior_mean = float(options.pop("prior_mean", 0.0))
    prior_sd = float(options.pop("prior_sd", 1.0))
    exposure = {name: options.pop(name) for name in _EXPOSURE_OPTIONS if name in options}
    if options:
        raise InvalidInputError(f"unknown option(s) for rule {rule}: {', '.join(sorted(options))}")
    if n_best < 1:
        raise InvalidInputError(f"randomesque must be ≥ 1, got {n_best}")
    if not (np.isfinite(prior_mean) and prior_sd > 0):
        raise InvalidInputError(f"prior_mean must be finite and prior_sd > 0, got {prior_sd}")
    if "k" in exposure and n_best > 1:
        raise InvalidInputError("choose either the k lottery or randomesque, not both")
    if key is None and (RULES[rule].random or n_best > 1 or "k" in exposure):
        raise InvalidInputError(f"rule {rule} with these options needs a key")
    return rule_options, n_best, (prior_mean, prior_sd), exposure


def next_item(
    items: ItemParams,
    administered: Sequence[int],
    responses: Sequence[int],
    rule: str,
    *,
    theta_hat: float | None = None,
    key: jax.Array | None = None,
    **options: Any,
) -> int:
    """Index into ``items`` of the next item, never one already administered.

    Args:
        items: the pool, each ``(n_items,)``, D = 1.7 metric.
        administered: indices of the items given so far, in order.
        responses: their 0/1 responses.
        rule: ``mfi``, ``mlwi``, ``mpwi``, ``mepv``, ``kl``, ``klp``, ``randomesque``,
            ``progressive`` or ``astrat`` (``qbank.cat.select.rules.RULES``).
        theta_hat: the current estimate; default the MAP estimate of the responses.
        key: PRNG key, needed by ``randomesque``, ``progressive`` and the ``k`` lottery.
        **options: ``randomesque=n`` (a random pick among the n best by the rule's scores;
            default 5 with rule ``randomesque``, else 1), ``test_len``, ``acceleration``,
            ``n_strata`` (see ``rule_scorer``), ``prior_mean`` and ``prior_sd`` (the normal
            prior of MAP, MPWI, KLP, MEPV; default N(0, 1)), and exposure control: ``k``
            (``(n_items,)`` Sympson–Hetter parameters), ``set_aside`` (indices or mask of items
            set aside) and ``exposure_rates`` with ``r_max`` (the restricted cap). Integrals use
            the 61-point grid on [−4, 4].

    Raises:
        InvalidInputError: unknown rule or option, bad history, no key for a random rule, or
            no item available.
    """
    rule_options, n_best, prior, exposure = _split_options(rule, key, options)
    n_items = int(np.asarray(items.a).shape[0])
    given, answers = _check_history(n_items, administered, responses)
    available = _available(n_items, given, exposure)
    pool = ItemParams(*(jnp.asarray(x, jnp.float32) for x in items))
    given_items = ItemParams(*(x[given] for x in pool))
    prior_mean, prior_sd = prior
    if theta_hat is None:
        estimate = estimate_theta(given_items, answers, "map", prior_mean=prior_mean,
                                  prior_sd=prior_sd)  # fmt: skip
        theta_hat = float(estimate.theta_hat)
    if not np.isfinite(theta_hat):
        raise InvalidInputError(f"theta_hat must be finite, got {theta_hat}")
    step_key = jax.random.key(0) if key is None else key
    rule_word, choice_word = jax.random.bits(step_key, (2,), jnp.uint32)
    rule_scorer(rule, pool, **rule_options)  # validates the options before tracing
    scores = _scores(
        rule, tuple(sorted(rule_options.items())), pool, given_items,
        jnp.asarray(answers, jnp.int32), jnp.float32(theta_hat),
        jnp.asarray(available), rule_word, jnp.float32(prior_mean), jnp.float32(prior_sd),
    )  # fmt: skip
    if "k" in exposure:
        accepted = hashed_uniforms(choice_word, n_items) < jnp.asarray(exposure["k"], jnp.float32)
        return int(first_argmax(ranked_lottery_score(scores, jnp.asarray(available), accepted)))
    return int(choose_from_scores(choice_word, scores, n_best))
