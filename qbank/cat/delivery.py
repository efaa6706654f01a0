"""Per-request CAT steps for live quizzes: one compiled call each, whatever the pool size.

A web request must not pay JAX's per-operation dispatch many times over, nor recompile for every
pool size a filter produces: arrays are padded to a power-of-two bucket (padded items are
unavailable, padded responses masked out) and the whole step runs as one jitted function.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from qbank.cat.argmax import first_argmax
from qbank.cat.balance import Blueprint, topic_mask
from qbank.cat.design import TestDesign
from qbank.cat.exposure.lottery_rng import hashed_uniforms
from qbank.cat.exposure.set_aside import considered_items
from qbank.cat.exposure.sympson_hetter import lottery_score
from qbank.cat.select.choose import SELECTORS
from qbank.cat.select.registry import SelectionState, choose_by_score, make_score_fn
from qbank.cat.stop import should_stop
from qbank.errors import InvalidInputError
from qbank.irt.eap import eap_estimate, make_grid, prior_log_density
from qbank.irt.grid_estimators import GridPosterior, estimator_fn
from qbank.irt.model import ItemParams, information, log_likelihood

__all__ = [
    "AbilityEstimate",
    "DesignedChoice",
    "PreparedItems",
    "choose_designed",
    "choose_item",
    "choose_prepared",
    "choose_prepared_with_walk",
    "estimate_ability",
    "estimate_ability_with",
    "prepare_items",
    "with_k",
]

_MIN_BUCKET = 64


class AbilityEstimate(NamedTuple):
    """EAP θ̂ and its posterior SD (the standard error)."""

    theta: float
    se: float


def _bucket(size: int) -> int:
    return max(_MIN_BUCKET, 1 << max(size - 1, 0).bit_length())


def _pad(values: ArrayLike, size: int, fill: float) -> np.ndarray:
    array = np.asarray(values, np.float32)
    return np.pad(array, (0, size - array.shape[0]), constant_values=fill)


def _lottery(
    seed_word: jax.Array,
    a: jax.Array,
    b: jax.Array,
    c: jax.Array,
    k: jax.Array,
    available: jax.Array,
    theta: jax.Array,
    use_sh: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Information at θ and the chosen index (S–H lottery unless ``use_sh`` is False)."""
    info = information(theta, a, b, c)
    accepted = (hashed_uniforms(seed_word, a.shape[0]) < k) | ~use_sh
    return info, first_argmax(lottery_score(info, available, accepted))


@jax.jit
def _choose(*args: jax.Array) -> jax.Array:
    return _lottery(*args)[1]


@jax.jit
def _choose_with_walk(
    seed_word: jax.Array,
    a: jax.Array,
    b: jax.Array,
    c: jax.Array,
    k: jax.Array,
    available: jax.Array,
    theta: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    # The same lottery as ``_choose`` with the S–H rule, so the choice is the same.
    info, chosen = _lottery(seed_word, a, b, c, k, available, theta, jnp.bool_(True))
    return chosen, considered_items(info, available, chosen)


class PreparedItems(NamedTuple):
    """A pool's parameters padded to their bucket once and kept on the device.

    Live delivery chooses from the same pool many times; preparing it once saves the padding
    and the host-to-device copy of four pool-sized arrays on every request.
    """

    a: jax.Array
    b: jax.Array
    c: jax.Array
    k: jax.Array
    n_items: int


def prepare_items(a: ArrayLike, b: ArrayLike, c: ArrayLike, k: ArrayLike) -> PreparedItems:
    """Pad a pool's ``(n_items,)`` parameters to their bucket (padded items never win)."""
    n_items = int(np.asarray(a).shape[0])
    size = _bucket(n_items)
    return PreparedItems(
        jnp.asarray(_pad(a, size, 1.0)), jnp.asarray(_pad(b, size, 0.0)),
        jnp.asarray(_pad(c, size, 0.0)), jnp.asarray(_pad(k, size, 0.0)), n_items,
    )  # fmt: skip


def with_k(items: PreparedItems, k: ArrayLike) -> PreparedItems:
    """The prepared pool with other ``(n_items,)`` k, e.g. conditional S–H's k at this θ̂."""
    return items._replace(k=jnp.asarray(_pad(k, items.a.shape[0], 0.0)))


def choose_prepared(
    seed_word: int,
    items: PreparedItems,
    available: ArrayLike,
    theta: float,
    selector: str,
) -> int:
    """``choose_item`` over a prepared pool; ``available`` is ``(n_items,)``."""
    if selector not in SELECTORS:
        raise InvalidInputError(f"selector must be one of {', '.join(SELECTORS)}")
    mask = np.asarray(available, bool)
    if mask.shape != (items.n_items,):
        raise InvalidInputError(f"available must have shape ({items.n_items},)")
    if not mask.any():
        raise InvalidInputError("no item is available to select")
    if not np.isfinite(theta):
        raise InvalidInputError(f"theta must be finite, got {theta}")
    index = _choose(
        jnp.uint32(seed_word & 0xFFFFFFFF), items.a, items.b, items.c, items.k,
        np.pad(mask, (0, items.a.shape[0] - mask.shape[0])), jnp.float32(theta),
        jnp.bool_(selector == "sympson_hetter"),
    )  # fmt: skip
    return int(index)


def choose_prepared_with_walk(
    seed_word: int, items: PreparedItems, available: ArrayLike, theta: float
) -> tuple[int, np.ndarray]:
    """The S–H choice over a prepared pool and the items its walk considered on the way.

    The choice is ``choose_prepared``'s with ``sympson_hetter`` for the same ``seed_word``. The
    considered items, other than the chosen one, lost their lottery: under Sympson & Hetter's
    (1985) rule they are set aside for the rest of the test (``exposure.set_aside``).

    Returns:
        The chosen index and an ``(n_items,)`` mask of the considered items, chosen included.
    """
    mask = np.asarray(available, bool)
    if mask.shape != (items.n_items,):
        raise InvalidInputError(f"available must have shape ({items.n_items},)")
    if not mask.any():
        raise InvalidInputError("no item is available to select")
    if not np.isfinite(theta):
        raise InvalidInputError(f"theta must be finite, got {theta}")
    index, considered = _choose_with_walk(
        jnp.uint32(seed_word & 0xFFFFFFFF), items.a, items.b, items.c, items.k,
        np.pad(mask, (0, items.a.shape[0] - mask.shape[0])), jnp.float32(theta),
    )  # fmt: skip
    return int(index), np.asarray(considered)[: items.n_items]


def choose_item(
    seed_word: int,
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike,
    k: ArrayLike,
    available: ArrayLike,
    theta: float,
    selector: str,
) -> int:
    """Index of the next item by DESIGN.md's ``vanilla`` or ``sympson_hetter`` rule.

    Args:
        seed_word: 32-bit seed of this step's S–H lottery.
        a: ``(n_items,)`` discriminations.
        b: ``(n_items,)`` difficulties.
        c: ``(n_items,)`` lower asymptotes.
        k: ``(n_items,)`` exposure parameters.
        available: ``(n_items,)`` mask of candidates.
        theta: the current ability estimate.
        selector: ``vanilla`` or ``sympson_hetter``.

    Raises:
        InvalidInputError: unknown selector, nothing available, or a non-finite θ̂.
    """
    return choose_prepared(seed_word, prepare_items(a, b, c, k), available, theta, selector)


@jax.jit
def _estimate(
    a: jax.Array, b: jax.Array, c: jax.Array, correct: jax.Array, answered: jax.Array
) -> tuple[jax.Array, jax.Array]:
    grid = make_grid()
    loglik = log_likelihood(correct[:, None], grid, a[:, None], b[:, None], c[:, None])
    log_posterior = prior_log_density(grid) + jnp.sum(jnp.where(answered[:, None], loglik, 0.0), 0)
    estimate = eap_estimate(log_posterior, grid)
    return estimate.theta_hat, estimate.posterior_sd


def estimate_ability(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, correct: ArrayLike
) -> AbilityEstimate:
    """EAP θ̂ and SE after the responses given (N(0, 1) prior, 61-point grid)."""
    answers = np.asarray(correct, np.float32)
    size = _bucket(answers.shape[0])
    theta, se = _estimate(
        _pad(a, size, 1.0),
        _pad(b, size, 0.0),
        _pad(c, size, 0.0),
        _pad(answers, size, 0.0),
        np.arange(size) < answers.shape[0],
    )
    return AbilityEstimate(float(theta), float(se))


class DesignedChoice(NamedTuple):
    """One delivery step under a test design."""

    stop: bool  # a stopping rule fired before this item: the quiz is over
    item: int  # index of the chosen item (meaningless when ``stop``)
    considered: np.ndarray  # (n_items,) bool: the lottery walk's considered items, chosen too
    theta: float  # θ̂ by the design's estimator, at which the item was chosen
    se: float


def _answered_log_posterior(
    grid: jax.Array, a: jax.Array, b: jax.Array, c: jax.Array, correct: jax.Array,
    answered: jax.Array,
) -> jax.Array:  # fmt: skip
    loglik = log_likelihood(correct[:, None], grid, a[:, None], b[:, None], c[:, None])
    return prior_log_density(grid) + jnp.sum(jnp.where(answered[:, None], loglik, 0.0), 0)


def _designed_step(
    seed_word: jax.Array,
    pool: PreparedItems,
    available: jax.Array,
    blueprint: Blueprint,
    topic_counts: jax.Array,
    answers: tuple[jax.Array, ...],
    n_given: jax.Array,
    design: TestDesign,
) -> tuple[jax.Array, ...]:
    """The same masks and scores as the simulation's design step, for one examinee."""
    grid = make_grid()
    a_answered, b_answered, c_answered, correct, answered = answers
    log_posterior = _answered_log_posterior(grid, a_answered, b_answered, c_answered, correct,
                                            answered)  # fmt: skip
    evidence = GridPosterior(log_posterior, prior_log_density(grid), grid, answered,
                             ItemParams(a_answered, b_answered, c_answered), correct)  # fmt: skip
    theta, se = estimator_fn(design.estimator)(evidence)
    info = information(theta, pool.a, pool.b, pool.c)
    rules = design.stop_rules()
    stop = should_stop(rules, n_given, theta, se, jnp.max(jnp.where(available, info, 0.0)))
    candidates = topic_mask(blueprint, topic_counts, available) if design.blueprint else available
    state = SelectionState(theta, info, candidates, log_posterior, grid, n_given, rules.max_len,
                           seed_word)  # fmt: skip
    score = make_score_fn(design.selection, design.selection_options)(
        state, ItemParams(pool.a, pool.b, pool.c)
    )
    accepted = hashed_uniforms(seed_word, pool.a.shape[0]) < pool.k
    if not design.uses_lottery:
        accepted = jnp.ones_like(accepted)
    chosen = choose_by_score(score, candidates, accepted)
    return stop, chosen, considered_items(score, candidates, chosen), theta, se


_designed_step_jit = jax.jit(_designed_step, static_argnames=("design",))


def choose_designed(
    seed_word: int,
    items: PreparedItems,
    available: ArrayLike,
    design: TestDesign,
    answered: tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike],
    item_topic: ArrayLike | None = None,
    topic_counts: ArrayLike | None = None,
) -> DesignedChoice:
    """One step of a quiz under an exam's design: stop, or the next item.

    θ̂ comes from the design's estimator on the answers so far; the stopping rules are checked
    at θ̂ (with the information left among ``available``), then the rule scores the
    candidates of the most lacking blueprint topic and the S–H lottery (unless the design's
    exposure is ``none``) picks among them, as in the simulation.

    Args:
        seed_word: 32-bit seed of this step's lottery (and of rules that draw).
        items: the prepared pool.
        available: ``(n_items,)`` candidates (not served, under the exposure cap, not set aside).
        design: the exam's design.
        answered: (a, b, c, correct) of the items answered so far, each ``(n_answered,)``.
        item_topic: ``(n_items,)`` blueprint topic index per item (``TestDesign.blueprint_for``).
        topic_counts: ``(n_topics + 1,)`` items given per blueprint topic.

    Raises:
        InvalidInputError: nothing available, or a blueprint without its arrays.
    """
    mask = np.asarray(available, bool)
    if mask.shape != (items.n_items,):
        raise InvalidInputError(f"available must have shape ({items.n_items},)")
    if not mask.any():
        raise InvalidInputError("no item is available to select")
    size = items.a.shape[0]
    if design.blueprint:
        if item_topic is None or topic_counts is None:
            raise InvalidInputError("a design with a blueprint needs item topics and counts")
        outside = len(design.blueprint)
        topics = np.pad(np.asarray(item_topic, np.int32), (0, size - items.n_items),
                        constant_values=outside)  # fmt: skip
        blueprint = Blueprint(jnp.asarray(topics), jnp.asarray(
            [target for _, target in design.blueprint] + [0.0], jnp.float32))  # fmt: skip
        counts = jnp.asarray(topic_counts, jnp.float32)
    else:
        blueprint = Blueprint(jnp.zeros(size, jnp.int32), jnp.ones(1, jnp.float32))
        counts = jnp.zeros(1, jnp.float32)
    a, b, c, correct = (np.asarray(x, np.float32) for x in answered)
    bucket = _bucket(a.shape[0])
    answers = (
        _pad(a, bucket, 1.0), _pad(b, bucket, 0.0), _pad(c, bucket, 0.0),
        _pad(correct, bucket, 0.0), np.arange(bucket) < a.shape[0],
    )  # fmt: skip
    stop, index, considered, theta, se = _designed_step_jit(
        jnp.uint32(seed_word & 0xFFFFFFFF), items, np.pad(mask, (0, size - mask.shape[0])),
        blueprint, counts, answers, jnp.int32(a.shape[0]), design=design,
    )  # fmt: skip
    return DesignedChoice(bool(stop), int(index), np.asarray(considered)[: items.n_items],
                          float(theta), float(se))  # fmt: skip


@partial(jax.jit, static_argnames=("estimator",))
def _estimate_with(
    a: jax.Array, b: jax.Array, c: jax.Array, correct: jax.Array, answered: jax.Array,
    estimator: str,
) -> tuple[jax.Array, jax.Array]:  # fmt: skip
    grid = make_grid()
    log_posterior = _answered_log_posterior(grid, a, b, c, correct, answered)
    evidence = GridPosterior(log_posterior, prior_log_density(grid), grid, answered,
                             ItemParams(a, b, c), correct)  # fmt: skip
    return estimator_fn(estimator)(evidence)


def estimate_ability_with(
    estimator: str, a: ArrayLike, b: ArrayLike, c: ArrayLike, correct: ArrayLike
) -> AbilityEstimate:
    """θ̂ and SE by the named estimator (``irt.grid_estimators``) after the responses given."""
    estimator_fn(estimator)  # an unknown name fails here, not inside jit
    answers = np.asarray(correct, np.float32)
    size = _bucket(answers.shape[0])
    theta, se = _estimate_with(
        _pad(a, size, 1.0), _pad(b, size, 0.0), _pad(c, size, 0.0), _pad(answers, size, 0.0),
        np.arange(size) < answers.shape[0], estimator=estimator,
    )  # fmt: skip
    return AbilityEstimate(float(theta), float(se))
