"""How a calibration iteration moves the exposure parameters k towards their targets.

- ``multiplicative`` (the seed's rule, DESIGN.md): ``k_i ← clip(k_i · (tau_i / r_i)^alpha,
  floor, ceil)`` from the exposure rates r_i, or ``k_i ← min(ceil, max(floor, 1.1 · k_i))`` for
  an item nobody saw. DESIGN.md writes ``min(1, …)`` for that second case; we bound it by
  ``ceil`` too (ceil ≤ 1) so that k never leaves the range the user asked for.
- ``sympson-hetter`` (Sympson & Hetter 1985): from P(S_i), the share of examinees for whom item
  i was considered by the set-aside lottery, ``k_i ← min(1, tau_i / P(S_i))`` where
  P(S_i) > tau_i and ``k_i ← 1`` otherwise, then clipped to [floor, ceil]. Since P(A_i) =
  k_i · P(S_i), this is the largest k that keeps the item's exposure at its target if P(S_i)
  stayed put; it does not depend on the previous k, which is why it settles in a few iterations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["update_k", "update_k_sympson_hetter"]


def update_k(
    k: ArrayLike,
    exposure_rates: ArrayLike,
    tau: ArrayLike,
    alpha: ArrayLike,
    floor: ArrayLike,
    ceil: ArrayLike,
) -> jax.Array:
    """One multiplicative update of k from observed exposure rates (module docstring)."""
    k, rates = jnp.asarray(k), jnp.asarray(exposure_rates)
    safe_rates = jnp.where(rates > 0, rates, 1.0)
    # k·(tau/r)^alpha in log space, capped at 1 before exp: no 0·inf when k = 0 and r is tiny.
    log_scaled = jnp.log(k) + alpha * (jnp.log(jnp.asarray(tau)) - jnp.log(safe_rates))
    scaled = jnp.exp(jnp.minimum(log_scaled, 0.0))
    unseen = jnp.maximum(floor, 1.1 * k)
    return jnp.minimum(jnp.clip(jnp.where(rates > 0, scaled, unseen), floor, ceil), 1.0)


def update_k_sympson_hetter(
    selection_rates: ArrayLike, tau: ArrayLike, floor: ArrayLike, ceil: ArrayLike
) -> jax.Array:
    """One Sympson–Hetter (1985) update of k from P(S), each ``(n_items,)`` (module docstring)."""
    selection_rates, tau = jnp.asarray(selection_rates), jnp.asarray(tau)
    over = selection_rates > tau
    k = jnp.where(over, tau / jnp.where(over, selection_rates, 1.0), 1.0)
    return jnp.minimum(jnp.clip(k, floor, ceil), 1.0)
