"""issue 19's rules (``select.rules``) in the design registry (``select.registry``).

The registry hands a rule the step's ``SelectionState`` and the pool; the rules of ``rules.py``
take a ``SelectionContext`` and bind their pool-only tables (astrat's strata, the grids that
mlwi, mpwi, mepv, kl and klp integrate) per pool. This adapter builds the context from the state
and binds the tables inside the traced step, where the pool is a constant of the compiled
program. A design gives progressive and astrat its ``max_len`` as ``test_len``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from qbank.cat.select.a_stratified import DEFAULT_N_STRATA, b_blocked_strata, score_astrat
from qbank.cat.select.context import SelectionContext
from qbank.cat.select.progressive import DEFAULT_TEST_LEN, score_progressive
from qbank.cat.select.randomesque import DEFAULT_RANDOMESQUE, select_randomesque
from qbank.cat.select.registry import ScoreFn, SelectionState, register_rule
from qbank.cat.select.rules import RULES, rule_scorer
from qbank.errors import InvalidInputError
from qbank.irt.eap import prior_log_density
from qbank.irt.model import ItemParams

__all__ = ["register_catr_rules"]


def _context(state: SelectionState) -> SelectionContext:
    log_prior = prior_log_density(state.grid)
    return SelectionContext(state.theta_hat, state.log_posterior - log_prior, log_prior,
                            state.grid, state.n_given, state.word)  # fmt: skip


def _check_options(rule: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(options) - set(allowed)
    if unknown:
        raise TypeError(f"rule {rule} takes no option {', '.join(sorted(unknown))}")
    for name, value in options.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"option {name} of rule {rule} must be a number")


def _pool_rule(rule: str) -> Callable[..., ScoreFn]:
    """mlwi, mpwi, mepv, kl, klp: no options; their grid tables come from the pool."""

    def factory(**options: Any) -> ScoreFn:
        _check_options(rule, options, ())

        def score(state: SelectionState, items: ItemParams) -> jax.Array:
            scorer = rule_scorer(rule, items, grid=state.grid)
            return scorer(items, _context(state), state.available)

        return score

    return factory


def _progressive(**options: Any) -> ScoreFn:
    _check_options("progressive", options, ("test_len", "acceleration"))
    acceleration = float(options.get("acceleration", 1.0))
    if not acceleration >= 0:
        raise InvalidInputError(f"acceleration must be ≥ 0, got {acceleration}")

    test_len = int(options.get("test_len", DEFAULT_TEST_LEN))

    def score(state: SelectionState, items: ItemParams) -> jax.Array:
        return score_progressive(items, _context(state), state.available, test_len=test_len,
                                 acceleration=acceleration)  # fmt: skip

    return score


def _astrat(**options: Any) -> ScoreFn:
    _check_options("astrat", options, ("test_len", "n_strata"))
    n_strata = int(options.get("n_strata", DEFAULT_N_STRATA))
    test_len = int(options.get("test_len", DEFAULT_TEST_LEN))
    if n_strata < 1:
        raise InvalidInputError(f"n_strata must be ≥ 1, got {n_strata}")

    def score(state: SelectionState, items: ItemParams) -> jax.Array:
        n_used = min(n_strata, items.a.shape[0])
        strata = b_blocked_strata(items, n_used)
        return score_astrat(items, _context(state), state.available, strata=strata,
                            test_len=test_len, n_strata=n_used)  # fmt: skip

    return score


def _randomesque(**options: Any) -> ScoreFn:
    """Kohn & Kingsbury (1989): a random one of the ``n`` most informative comes first."""
    _check_options("randomesque", options, ("n",))
    n_best = int(options.get("n", DEFAULT_RANDOMESQUE))
    if n_best < 1:
        raise InvalidInputError(f"randomesque n must be ≥ 1, got {n_best}")

    def score(state: SelectionState, items: ItemParams) -> jax.Array:
        info = jnp.where(state.available, state.info, -jnp.inf)
        pick = select_randomesque(state.word, info, n_best)
        top = jnp.max(jnp.where(state.available, state.info, 0.0))
        return jnp.where(jnp.arange(info.shape[0]) == pick, top + 1.0, state.info)

    return score


def register_catr_rules() -> None:
    """Put every rule of ``select.rules`` but mfi (the registry's own) in the registry."""
    for rule in RULES:
        if rule in ("mfi", "progressive", "astrat", "randomesque"):
            continue
        register_rule(rule, _pool_rule(rule))
    register_rule("progressive", _progressive)
    register_rule("astrat", _astrat)
    register_rule("randomesque", _randomesque)


register_catr_rules()
