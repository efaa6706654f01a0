"""Ability estimators on the quadrature grid, by name, as a CAT step calls them.

A CAT carries the log posterior of θ on the grid (``eap``); an estimator turns it into θ̂ and its
SE. ``ESTIMATORS[name]`` is a pure function of a ``GridPosterior``, the same in simulation
(vmapped inside a ``lax.scan``) and in delivery: ``eap`` (Bock & Mislevy 1982: the posterior
mean, its SE the posterior SD) and ``estimate_theta``'s ``map``, ``ml`` and ``wle`` (Warm 1989),
which start from the grid's log-likelihood (``log_posterior − log_prior``) the CAT carries.
More plug in with ``register_estimator``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax

from qbank.errors import InvalidInputError
from qbank.irt.ability import estimate_theta_batched
from qbank.irt.eap import eap_estimate
from qbank.irt.model import ItemParams

__all__ = ["ESTIMATORS", "EstimatorFn", "GridPosterior", "estimator_fn", "register_estimator"]


class GridPosterior(NamedTuple):
    """One examinee's evidence after the responses so far."""

    log_posterior: jax.Array  # (n_points,) log prior + log likelihood on the grid
    log_prior: jax.Array  # (n_points,)
    grid: jax.Array  # (n_points,) quadrature points
    given: jax.Array  # (n_items,) bool items answered (for information-based SEs)
    items: ItemParams  # the pool, each (n_items,)
    # (n_items,) 0/1 answers where ``given`` (ML and WLE solve their estimating equations on them)
    responses: jax.Array | None = None


EstimatorFn = Callable[[GridPosterior], tuple[jax.Array, jax.Array]]
"""GridPosterior → (θ̂, SE), both ``()``."""


def _eap(evidence: GridPosterior) -> tuple[jax.Array, jax.Array]:
    estimate = eap_estimate(evidence.log_posterior, evidence.grid)
    return estimate.theta_hat, estimate.posterior_sd


def _modal(method: str) -> EstimatorFn:
    """``estimate_theta``'s map, ml or wle (Magis & Raîche 2012's SEs) on the carried evidence."""

    def estimate(evidence: GridPosterior) -> tuple[jax.Array, jax.Array]:
        if evidence.responses is None:
            raise InvalidInputError(f"the {method} estimator needs each item's response")
        items = ItemParams(*(x[None, :] for x in evidence.items))
        found = estimate_theta_batched(
            items, evidence.responses[None, :], evidence.given[None, :], method,
            grid_log_likelihood=(evidence.log_posterior - evidence.log_prior)[None, :],
            n_points=evidence.grid.shape[0],
        )  # fmt: skip
        return found.theta_hat[0], found.se[0]

    return estimate


ESTIMATORS: dict[str, EstimatorFn] = {
    "eap": _eap,
    "map": _modal("map"),
    "ml": _modal("ml"),
    "wle": _modal("wle"),
}


def register_estimator(name: str, estimator: EstimatorFn) -> None:
    """Add an estimator by name."""
    ESTIMATORS[name] = estimator


def estimator_fn(name: str) -> EstimatorFn:
    """The estimator called ``name``.

    Raises:
        InvalidInputError: unknown name.
    """
    found = ESTIMATORS.get(name)
    if found is None:
        known = ", ".join(sorted(ESTIMATORS))
        raise InvalidInputError(f"estimator must be one of {known}, got {name!r}")
    return found
