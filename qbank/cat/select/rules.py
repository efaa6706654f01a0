"""The selection rules by name, with their options bound once per pool.

``rule_scorer(rule, items, **options)`` returns ``score(items, context, available) -> scores``,
the one signature of ``select/``: a batched simulation ``vmap``s it over simulees' contexts,
delivery calls it for one examinee, and ``choose_from_scores`` (or an exposure lottery) turns the
scores into an index.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax

from qbank.cat.argmax import first_argmax
from qbank.cat.select.a_stratified import DEFAULT_N_STRATA, b_blocked_strata, score_astrat
from qbank.cat.select.context import SelectionContext
from qbank.cat.select.expected_posterior_variance import probability_table, score_mepv
from qbank.cat.select.kullback_leibler import kl_table, score_kl, score_klp
from qbank.cat.select.mfi import score_mfi
from qbank.cat.select.progressive import DEFAULT_TEST_LEN, score_progressive
from qbank.cat.select.randomesque import DEFAULT_RANDOMESQUE, select_randomesque
from qbank.cat.select.weighted_information import information_table, score_mlwi, score_mpwi
from qbank.errors import InvalidInputError
from qbank.irt.eap import make_grid
from qbank.irt.model import ItemParams

__all__ = ["DEFAULT_RANDOMESQUE", "RULES", "Rule", "Scorer", "choose_from_scores", "rule_scorer"]

Scorer = Callable[[ItemParams, SelectionContext, jax.Array], jax.Array]

# Rules that integrate a pool-by-grid table: rule_scorer computes it once per pool.
_GRID_TABLES: dict[str, Callable[[ItemParams, jax.Array], jax.Array]] = {
    "mlwi": information_table,
    "mpwi": information_table,
    "mepv": probability_table,
    "kl": kl_table,
    "klp": kl_table,
}


class Rule(NamedTuple):
    """A selection rule: its scoring function, its options, and what its pick needs."""

    score: Callable[..., jax.Array]
    options: tuple[str, ...]  # keyword options of ``score`` (besides the pool-derived ones)
    random: bool  # its choice draws random numbers (needs a key)
    reference: str


RULES: dict[str, Rule] = {
    "mfi": Rule(score_mfi, (), False, "maximum Fisher information (Lord 1980)"),
    "mlwi": Rule(score_mlwi, (), False, "likelihood-weighted information (Veerkamp & Berger 1997)"),
    "mpwi": Rule(score_mpwi, (), False, "posterior-weighted information (van der Linden 1998)"),
    "mepv": Rule(
        score_mepv, (), False, "minimum expected posterior variance (van der Linden 1998)"
    ),
    "kl": Rule(score_kl, (), False, "likelihood-weighted Kullback–Leibler (Chang & Ying 1996)"),
    "klp": Rule(score_klp, (), False, "posterior-weighted Kullback–Leibler (Chang & Ying 1996)"),
    "randomesque": Rule(
        score_mfi, (), True, "random among the n most informative (Kohn & Kingsbury 1989)"
    ),
    "progressive": Rule(
        score_progressive,
        ("test_len", "acceleration"),
        True,
        "progressive method (Revuelta & Ponsoda 1998)",
    ),
    "astrat": Rule(
        score_astrat,
        ("test_len", "n_strata"),
        False,
        "a-stratified with b-blocking (Chang, Qian & Ying 2001)",
    ),
}


def _check_rule(rule: str) -> Rule:
    if rule not in RULES:
        raise InvalidInputError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    return RULES[rule]


def rule_scorer(
    rule: str, items: ItemParams, grid: jax.Array | None = None, **options: float
) -> Scorer:
    """The scoring function of ``rule`` with its options and pool-only tables bound.

    What depends on the pool alone is computed here, once: astrat's strata, and the
    ``(n_points, n_items)`` tables of I, P or log P/log Q on ``grid`` (default the 61-point grid
    on [−4, 4]) that mlwi, mpwi, mepv, kl and klp integrate; contexts must use that grid.
    Options: ``test_len`` (progressive, astrat; default 20), ``acceleration`` (progressive,
    default 1), ``n_strata`` (astrat, default 4).

    Raises:
        InvalidInputError: unknown rule, an option the rule does not take, or a bad value.
    """
    spec = _check_rule(rule)
    unknown = set(options) - set(spec.options)
    if unknown:
        raise InvalidInputError(f"rule {rule} takes no option {', '.join(sorted(unknown))}")
    test_len = int(options.get("test_len", DEFAULT_TEST_LEN))
    if test_len < 1:
        raise InvalidInputError(f"test_len must be ≥ 1, got {test_len}")
    if rule == "progressive":
        acceleration = float(options.get("acceleration", 1.0))
        if not acceleration >= 0:
            raise InvalidInputError(f"acceleration must be ≥ 0, got {acceleration}")
        return partial(score_progressive, test_len=test_len, acceleration=acceleration)
    if rule == "astrat":
        n_strata = int(options.get("n_strata", DEFAULT_N_STRATA))
        if not 1 <= n_strata <= items.a.shape[0]:
            raise InvalidInputError(f"n_strata must be in [1, n_items], got {n_strata}")
        strata = b_blocked_strata(items, n_strata)
        return partial(score_astrat, strata=strata, test_len=test_len, n_strata=n_strata)
    if rule in _GRID_TABLES:
        table = _GRID_TABLES[rule](items, make_grid() if grid is None else grid)
        return partial(spec.score, table=table)
    return spec.score


def choose_from_scores(word: jax.Array, scores: jax.Array, n_best: int = 1) -> jax.Array:
    """The best-scoring item, or a random one among the ``n_best`` best (randomesque).

    ``word`` is the step's uint32 random word (unused when ``n_best`` is 1).
    """
    if n_best <= 1:
        return first_argmax(scores)
    return select_randomesque(word, scores, n_best)
