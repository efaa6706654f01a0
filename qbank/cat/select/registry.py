"""Next-item rules by name: each a score over the pool, higher is better.

A rule is a factory: ``SELECTION_RULES[name](**options)`` checks the options once and returns a
``ScoreFn``, a pure function of a ``SelectionState`` and the pool's ``ItemParams`` giving one score
per item. The simulation (vmapped in a ``lax.scan``) and delivery (one examinee) call the same
function; masks (given, set aside, blueprint topic) and the Sympson–Hetter lottery are applied
to the scores afterwards, by ``choose_by_score``. Today's rule is ``mfi``; issue 19's rules
(mlwi, mpwi, mepv, kl, klp, randomesque, progressive, astrat) plug in with ``register_rule``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from qbank.cat.argmax import first_argmax
from qbank.errors import InvalidInputError
from qbank.irt.model import ItemParams

__all__ = [
    "SELECTION_RULES",
    "ScoreFn",
    "SelectionState",
    "choose_by_score",
    "make_score_fn",
    "register_rule",
]


class SelectionState(NamedTuple):
    """What a rule may look at before choosing one examinee's next item."""

    theta_hat: jax.Array  # () θ at which to select (θ̂, or the true θ in the shortcut)
    info: jax.Array  # (n_items,) Fisher information at theta_hat, computed once per step
    available: jax.Array  # (n_items,) bool candidates, every mask applied
    log_posterior: jax.Array  # (n_points,) log posterior of θ on the grid
    grid: jax.Array  # (n_points,) quadrature points
    n_given: jax.Array  # () int32 items given so far
    max_len: jax.Array  # () int32 the test's fixed (maximum) length
    word: jax.Array  # () uint32 this step's random word, for rules that draw (randomesque)


ScoreFn = Callable[[SelectionState, ItemParams], jax.Array]
"""(state, items) → ``(n_items,)`` scores; the chosen item is the best available one."""


def _mfi() -> ScoreFn:
    """Maximum Fisher information at θ̂ (Lord 1980; DESIGN.md's ``vanilla``)."""

    def score(state: SelectionState, _items: ItemParams) -> jax.Array:
        return state.info

    return score


SELECTION_RULES: dict[str, Callable[..., ScoreFn]] = {"mfi": _mfi}


def register_rule(name: str, factory: Callable[..., ScoreFn]) -> None:
    """Add a rule; its factory takes the rule's options as keywords and validates them."""
    SELECTION_RULES[name] = factory


def make_score_fn(name: str, options: tuple[tuple[str, Any], ...] = ()) -> ScoreFn:
    """The score function of rule ``name`` with ``options`` (hashable pairs, as in a design).

    Raises:
        InvalidInputError: unknown rule, or options the rule does not take.
    """
    factory = SELECTION_RULES.get(name)
    if factory is None:
        known = ", ".join(sorted(SELECTION_RULES))
        raise InvalidInputError(f"selection rule must be one of {known}, got {name!r}")
    try:
        return factory(**dict(options))
    except TypeError:
        given = ", ".join(key for key, _ in options) or "none"
        raise InvalidInputError(f"selection rule {name!r} does not take options {given}") from None


def choose_by_score(score: jax.Array, available: jax.Array, accepted: jax.Array) -> jax.Array:
    """The best available item whose S–H lottery passed, else the best available one.

    With every lottery passing this is the best available item. Works for any real score (the
    max-information fast path uses ``sympson_hetter.lottery_score`` instead, for info ≥ 0).
    """
    taken = available & accepted
    best_taken = first_argmax(jnp.where(taken, score, -jnp.inf))
    best_available = first_argmax(jnp.where(available, score, -jnp.inf))
    return jnp.where(taken.any(), best_taken, best_available)


# issue 19's rules (mlwi, mpwi, mepv, kl, klp, randomesque, progressive, astrat) register
# themselves; imported last, as they build on the names above.
from qbank.cat.select import catr_rules as _catr_rules  # noqa: E402

del _catr_rules
