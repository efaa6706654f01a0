"""Evaluate a test design by simulation: one administration to many simulees, summarised.

``evaluate_design`` draws abilities, runs the design's tests (``simulate`` with the design as a
static argument, one compile per design and pool size) and summarises them with
``summary.design_metrics``. The exposure control is the design's: ``none`` gives every item
k = 1; the Sympson–Hetter methods use the pool's k (one per item, as delivery does).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.cat.balance import Blueprint
from qbank.cat.calibration.params import ThetaDist
from qbank.cat.design import TestDesign
from qbank.cat.simulate import simulate
from qbank.cat.summary import DesignMetrics, design_metrics
from qbank.errors import InvalidInputError
from qbank.irt.eap import make_grid, prior_log_density
from qbank.irt.model import ItemParams

__all__ = ["evaluate_design"]


def _draw_true_theta(key: jax.Array, dist: ThetaDist, n: int) -> jax.Array:
    if dist.kind == "normal":
        return dist.loc + dist.scale * jax.random.normal(key, (n,))
    return dist.loc + dist.scale * jax.random.uniform(key, (n,))


@partial(jax.jit, static_argnames=("design", "n", "dist"))
def _evaluate(
    seed: jax.Array,
    items: ItemParams,
    k: jax.Array,
    item_topic: jax.Array,
    strata_edges: jax.Array,
    *,
    design: TestDesign,
    n: int,
    dist: ThetaDist,
) -> DesignMetrics:
    theta_key, cat_key = jax.random.split(jax.random.key(seed))
    true_theta = _draw_true_theta(theta_key, dist, n)
    grid = make_grid()
    blueprint = None
    if design.blueprint:
        targets = jnp.asarray([target for _, target in design.blueprint] + [0.0], jnp.float32)
        blueprint = Blueprint(item_topic, targets)
    result = simulate(
        cat_key, items, k, true_theta, grid, prior_log_density(grid), design.stopping.max_len,
        design=design, blueprint=blueprint,
    )  # fmt: skip
    return design_metrics(
        result.administered, result.theta_hat[:, -1], true_theta, items.a.shape[0],
        strata_edges, blueprint, design.stopping.cut,
    )  # fmt: skip


def evaluate_design(
    design: TestDesign,
    items: ItemParams,
    k: ArrayLike,
    item_topics: list[str],
    *,
    n: int,
    seed: int,
    dist: ThetaDist,
    strata_edges: ArrayLike,
) -> DesignMetrics:
    """Simulate ``n`` tests under ``design`` and summarise them (same seed, same figures).

    Args:
        design: the test design.
        items: the pool, each ``(n_items,)``.
        k: ``(n_items,)`` the pool's S–H parameters (ignored when exposure is ``none``).
        item_topics: topic name of each item (for the blueprint).
        n: simulees.
        seed: seed of the abilities and of the tests.
        dist: distribution of the true abilities.
        strata_edges: θ cut points of the conditional exposure rates.

    Raises:
        InvalidInputError: the test is longer than the pool, or bad sizes.
    """
    n_items = items.a.shape[0]
    if not 1 <= n <= 1_000_000:
        raise InvalidInputError(f"n must be in [1, 1000000], got {n}")
    if design.stopping.max_len > n_items:
        raise InvalidInputError(
            f"the design's max_len ({design.stopping.max_len}) exceeds the pool size ({n_items})"
        )
    if len(item_topics) != n_items:
        raise InvalidInputError(f"item_topics has {len(item_topics)} entries for {n_items} items")
    k = jnp.ones(n_items) if not design.uses_lottery else jnp.asarray(k, jnp.float32)
    blueprint = design.blueprint_for(item_topics)
    item_topic = jnp.zeros(n_items, jnp.int32) if blueprint is None else blueprint.item_topic
    metrics: DesignMetrics = _evaluate(
        jnp.uint32(seed & 0xFFFFFFFF), items, k, item_topic,
        jnp.asarray(strata_edges, jnp.float32), design=design, n=n, dist=dist,
    )  # fmt: skip
    return metrics
