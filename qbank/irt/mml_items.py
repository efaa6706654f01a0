"""Per-item pieces of MML estimation: derivatives on the grid, priors, the M-step.

An item's parameters are handled in the unconstrained coordinates φ = (log a, b, logit c). A
model frees some of them (``FREE``): all three for the 3PL, (log a, b) for the 2PL and b alone
for the 1PL, whose common a is updated across items by the caller. Every function here works on
one item and is ``vmap``-ed over items by ``qbank.irt.mml``.

Derivatives are written out rather than taken by autodiff: XLA compiles the forward-mode
Jacobians of the log-sigmoid expressions for seconds, these closed forms in a fraction of that,
and each is a product of bounded factors, so nothing divides by an underflowed probability.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from qbank.irt.model import MAX_A, D

__all__ = [
    "FREE",
    "PHI_BOX",
    "GridTerms",
    "ItemStep",
    "Priors",
    "ascent_point",
    "at_bound",
    "best_step",
    "grid_terms",
    "item_objective",
    "m_step",
    "prior_terms",
    "scoring_parts",
    "small_inverse",
]

FREE: dict[str, tuple[int, ...]] = {"3pl": (0, 1, 2), "2pl": (0, 1), "1pl": (1,)}
"""Indices of φ = (log a, b, logit c) that each model estimates per item."""

# Box for φ: beyond it an item is degenerate anyway and float32 starts to overflow.
_PHI_LOW = (-4.6, -8.0, -9.2)  # a ≥ 0.01, b ≥ −8, c ≥ 1e-4
_PHI_HIGH = (math.log(MAX_A), 8.0, 0.4)  # a ≤ MAX_A, b ≤ 8, c ≤ 0.6
PHI_BOX = (_PHI_LOW, _PHI_HIGH)
"""Lower and upper bounds of φ = (log a, b, logit c)."""
# Step lengths tried along the Fisher-scoring direction and, as a fallback, along the gradient
# (scaled to a largest component of 1). 0 keeps the current value, so an M-step never lowers the
# item's objective and EM stays monotone; the gradient's short steps always climb unless the
# item is already at a stationary point (or pressed against the box).
_STEP_SCALES = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.0)
_GRADIENT_SCALES = (0.5, 0.125, 0.03125, 2.0**-7, 2.0**-9, 2.0**-11, 2.0**-13, 2.0**-16, 0.0)
_MAX_STEP = 1.0
_RIDGE = 1e-3


@dataclass(frozen=True, slots=True)
class Priors:
    """Prior densities on item parameters; ``None`` leaves a parameter unpenalised.

    ``a_lognormal`` is (mean, sd) of log a; ``b_normal`` (mean, sd) of b; ``c_beta`` the
    (alpha, beta) of a beta density on c. The densities are on a, b and c themselves: φ only changes
    coordinates, so the optimum is the posterior mode in (a, b, c). Hashable, so it is a static
    argument of the compiled EM cycle.
    """

    a_lognormal: tuple[float, float] | None = None
    b_normal: tuple[float, float] | None = None
    c_beta: tuple[float, float] | None = None


class GridTerms(NamedTuple):
    """One item's log-probabilities and their φ-derivatives at each grid point."""

    log_p: jax.Array  # (n_points,)
    log_q: jax.Array  # (n_points,)
    grad_p: jax.Array  # (n_points, 3) ∇φ log P
    grad_q: jax.Array  # (n_points, 3) ∇φ log Q
    curv_p: jax.Array  # (n_points, 3, 3) ∇²φ P / P
    curv_q: jax.Array  # (n_points, 3, 3) ∇²φ Q / Q


def _log_pq(
    a: jax.Array, b: jax.Array, c: jax.Array, grid: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    z = D * a * (grid - b)
    log_c, log_u = jnp.log(c), jnp.log1p(-c)
    log_p = jnp.minimum(jnp.logaddexp(log_c, log_u + jax.nn.log_sigmoid(z)), 0.0)
    return z, log_p, log_u + jax.nn.log_sigmoid(-z)


def grid_terms(a: jax.Array, b: jax.Array, c: jax.Array, grid: jax.Array) -> GridTerms:
    """Log P, log Q, their gradients and ∇²P/P, ∇²Q/Q at every grid point.

    With z = D·a·(θ − b), s = σ(z), u = 1 − c: P = c + u·s and Q = u·(1 − s). The factors
    w = u·s/P and v = c/P lie in [0, 1], which keeps every term finite where P underflows.
    """
    z, log_p, log_q = _log_pq(a, b, c, grid)
    s, one_minus_s = jax.nn.sigmoid(z), jax.nn.sigmoid(-z)
    w = jnp.exp(jnp.log1p(-c) + jax.nn.log_sigmoid(z) - log_p)
    v = jnp.exp(jnp.log(c) - log_p)
    da, u = D * a, 1.0 - c
    grad_p = jnp.stack([w * one_minus_s * z, -w * one_minus_s * da, v * u * one_minus_s], -1)
    grad_q = jnp.stack([-s * z, s * da, jnp.broadcast_to(-c, z.shape)], -1)
    bend = 1.0 - 2.0 * s  # s''/s' for the logistic
    wq = w * one_minus_s  # u·s'/P
    curv_p = _symmetric(
        wq * (bend * z * z + z), -da * wq * (bend * z + 1.0), da * da * wq * bend,
        -c * wq * z, c * wq * da, v * u * one_minus_s * (1.0 - 2.0 * c),
    )  # fmt: skip
    curv_q = _symmetric(
        -s * (bend * z * z + z), da * s * (bend * z + 1.0), -da * da * s * bend,
        c * s * z, -c * s * da, jnp.broadcast_to(-c * (1.0 - 2.0 * c), z.shape),
    )  # fmt: skip
    return GridTerms(log_p, log_q, grad_p, grad_q, curv_p, curv_q)


def grid_scores(a: jax.Array, b: jax.Array, c: jax.Array, grid: jax.Array) -> GridTerms:
    """``grid_terms`` without the curvatures (zeros), all the M-step's scoring needs."""
    z, log_p, log_q = _log_pq(a, b, c, grid)
    s, one_minus_s = jax.nn.sigmoid(z), jax.nn.sigmoid(-z)
    w = jnp.exp(jnp.log1p(-c) + jax.nn.log_sigmoid(z) - log_p)
    v = jnp.exp(jnp.log(c) - log_p)
    da, u = D * a, 1.0 - c
    grad_p = jnp.stack([w * one_minus_s * z, -w * one_minus_s * da, v * u * one_minus_s], -1)
    grad_q = jnp.stack([-s * z, s * da, jnp.broadcast_to(-c, z.shape)], -1)
    none = jnp.zeros((0, 3, 3), z.dtype)
    return GridTerms(log_p, log_q, grad_p, grad_q, none, none)


def _symmetric(*entries: jax.Array) -> jax.Array:
    """(n, 3, 3) from the entries aa, ab, bb, ac, bc, cc."""
    aa, ab, bb, ac, bc, cc = entries
    rows = [jnp.stack(r, -1) for r in ((aa, ab, ac), (ab, bb, bc), (ac, bc, cc))]
    return jnp.stack(rows, -2)


def prior_terms(priors: Priors, phi: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Log prior density (up to a constant), its φ-gradient and diagonal φ-Hessian, each (3,).

    Every prior here is concave in φ, so subtracting its Hessian keeps information positive.
    """
    zero = jnp.zeros((), phi.dtype)
    values: list[jax.Array] = [zero] * 3
    grads: list[jax.Array] = [zero] * 3
    curvs: list[jax.Array] = [zero] * 3
    if priors.a_lognormal is not None:
        mean, sd = priors.a_lognormal
        values[0] = -phi[0] - 0.5 * ((phi[0] - mean) / sd) ** 2
        grads[0], curvs[0] = -1.0 - (phi[0] - mean) / sd**2, jnp.asarray(-1.0 / sd**2, phi.dtype)
    if priors.b_normal is not None:
        mean, sd = priors.b_normal
        values[1] = -0.5 * ((phi[1] - mean) / sd) ** 2
        grads[1], curvs[1] = -(phi[1] - mean) / sd**2, jnp.asarray(-1.0 / sd**2, phi.dtype)
    if priors.c_beta is not None:
        alpha, beta = priors.c_beta
        c = jax.nn.sigmoid(phi[2])
        values[2] = (alpha - 1.0) * jax.nn.log_sigmoid(phi[2]) + (beta - 1.0) * jax.nn.log_sigmoid(
            -phi[2]
        )
        grads[2] = (alpha - 1.0) * (1.0 - c) - (beta - 1.0) * c
        curvs[2] = -(alpha + beta - 2.0) * c * (1.0 - c)
    return jnp.stack(values), jnp.stack(grads), jnp.stack(curvs)


def to_params(
    phi: jax.Array, c_fixed: jax.Array, model: str
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(a, b, c) of φ; models without c keep ``c_fixed``."""
    c = jax.nn.sigmoid(phi[2]) if model == "3pl" else c_fixed
    return jnp.exp(phi[0]), phi[1], c


def item_objective(
    model: str, priors: Priors, phi: jax.Array, c_fixed: jax.Array, correct: jax.Array,
    wrong: jax.Array, grid: jax.Array, no_guessing: bool = False,
) -> jax.Array:  # fmt: skip
    """Expected complete-data log-likelihood of one item plus its free parameters' log prior.

    ``correct`` and ``wrong`` are the E-step's expected numbers of right and wrong answers at
    each grid point, ``(n_points,)`` (Bock & Aitkin 1981's r and n − r). ``no_guessing``
    (static: c = 0 for certain) takes log Q = log P − z, one log-sigmoid instead of three
    transcendental terms: the M-step's line search evaluates this 15 times per step.
    """
    a, b, c = to_params(phi, c_fixed, model)
    if no_guessing:
        z = D * a * (grid - b)
        log_p = jax.nn.log_sigmoid(z)
        log_q = log_p - z
    else:
        _, log_p, log_q = _log_pq(a, b, c, grid)
    log_prior = prior_terms(priors, phi)[0]
    return jnp.sum(correct * log_p + wrong * log_q) + jnp.sum(log_prior[jnp.asarray(FREE[model])])


def scoring_parts(
    terms: GridTerms, correct: jax.Array, wrong: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Score (3,) and expected information (3, 3) of one item's expected log-likelihood.

    The expected information Σ_q n_q (P·∇log P ∇log Pᵀ + Q·∇log Q ∇log Qᵀ) is positive
    semi-definite everywhere, so Fisher scoring stays uphill without an eigen-decomposition.
    """
    score = correct @ terms.grad_p + wrong @ terms.grad_q
    total = correct + wrong
    weight_p, weight_q = total * jnp.exp(terms.log_p), total * jnp.exp(terms.log_q)
    information = (terms.grad_p * weight_p[:, None]).T @ terms.grad_p + (
        terms.grad_q * weight_q[:, None]
    ).T @ terms.grad_q
    return score, information


def _best_along(
    objective: Callable[[jax.Array], jax.Array], x: jax.Array, step: jax.Array,
    scales: tuple[float, ...],
) -> tuple[jax.Array, jax.Array]:  # fmt: skip
    candidates = x[None, :] + jnp.asarray(scales, x.dtype)[:, None] * step[None, :]
    values = jax.vmap(objective)(candidates)
    values = jnp.where(jnp.isfinite(values), values, -jnp.inf)
    best = jnp.argmax(values)
    return candidates[best], values[best]


def best_step(
    objective: Callable[[jax.Array], jax.Array], x: jax.Array, step: jax.Array
) -> jax.Array:
    """The point of ``x + s·step``, s in ``_STEP_SCALES``, with the highest objective.

    Evaluating every step length at once replaces a sequential line search; s = 0 is among
    them, so the result is never worse than ``x`` (a downhill ``step`` returns ``x``).
    """
    return _best_along(objective, x, step, _STEP_SCALES)[0]


def ascent_point(
    objective: Callable[[jax.Array], jax.Array], x: jax.Array, fisher: jax.Array,
    gradient: jax.Array,
) -> jax.Array:  # fmt: skip
    """The better of the best point along the Fisher-scoring step and along the gradient.

    The gradient direction (scaled so that its largest component is 1) climbs for short
    enough steps wherever the gradient is not zero, so an item whose scoring step does not
    improve still moves uphill instead of freezing where it is.
    """
    along_fisher, fisher_value = _best_along(objective, x, fisher, _STEP_SCALES)
    size = jnp.max(jnp.abs(gradient))
    direction = jnp.where(size > 0, gradient / jnp.where(size > 0, size, 1.0), 0.0)
    along_gradient, gradient_value = _best_along(objective, x, direction, _GRADIENT_SCALES)
    return jnp.where(fisher_value >= gradient_value, along_fisher, along_gradient)


def small_inverse(matrix: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Inverse of a symmetric matrix of size ≤ 3 by cofactors, and whether it is positive definite.

    Positive definiteness by Sylvester's criterion (all leading principal minors > 0). Written
    out because LAPACK's batched LU and eigen-solvers cost XLA far more to compile than these
    few products, and the matrices here are never larger than 3×3.
    """
    k = matrix.shape[-1]
    m = matrix
    if k == 1:
        return 1.0 / m, m[0, 0] > 0
    if k == 2:
        det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        adjugate = jnp.stack([jnp.stack([m[1, 1], -m[0, 1]]), jnp.stack([-m[1, 0], m[0, 0]])])
        return adjugate / det, (m[0, 0] > 0) & (det > 0)
    cofactor = jnp.stack([
        jnp.stack([m[(i + 1) % 3, (j + 1) % 3] * m[(i + 2) % 3, (j + 2) % 3]
                   - m[(i + 1) % 3, (j + 2) % 3] * m[(i + 2) % 3, (j + 1) % 3] for j in range(3)])
        for i in range(3)
    ])  # fmt: skip
    det = jnp.sum(m[0] * cofactor[0])
    minor2 = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    return cofactor.T / det, (m[0, 0] > 0) & (minor2 > 0) & (det > 0)


def ascent_step(score: jax.Array, information: jax.Array) -> jax.Array:
    """Fisher-scoring step ``information⁻¹·score``, ridged and finite.

    A step longer than ``_MAX_STEP`` in any component is shortened as a whole: scaling keeps
    the direction (still uphill, since the information is positive definite), where clipping
    each component separately could turn it downhill.
    """
    ridge = _RIDGE * jnp.eye(score.shape[0], dtype=score.dtype)
    step = small_inverse(information + ridge)[0] @ score
    step = jnp.where(jnp.isfinite(step), step, 0.0)
    largest = jnp.max(jnp.abs(step))
    return step * jnp.minimum(1.0, _MAX_STEP / jnp.maximum(largest, 1e-30))


def clip_phi(phi: jax.Array) -> jax.Array:
    """φ inside the box where items are well defined."""
    return jnp.clip(phi, jnp.asarray(_PHI_LOW, phi.dtype), jnp.asarray(_PHI_HIGH, phi.dtype))


def at_bound(phi: jax.Array, model: str) -> jax.Array:
    """Whether any of the item's free coordinates sits on the edge of the box."""
    low = jnp.asarray(_PHI_LOW, phi.dtype)
    high = jnp.asarray(_PHI_HIGH, phi.dtype)
    edge = (phi <= low + 1e-6) | (phi >= high - 1e-6)
    return jnp.any(edge[jnp.asarray(FREE[model])])


class ItemStep(NamedTuple):
    """An item's M-step result and the gradient at the point the cycle started from."""

    phi: jax.Array  # (3,) new φ
    gradient: jax.Array  # (3,) ∇φ of the log posterior at the start (0 where not free)
    scaled_gradient: jax.Array  # (3,) |gradient|·sd, sd from the item's information block


def m_step(
    model: str, priors: Priors, phi: jax.Array, c_fixed: jax.Array, correct: jax.Array,
    wrong: jax.Array, grid: jax.Array, n_steps: int, no_guessing: bool = False,
) -> ItemStep:  # fmt: skip
    """``n_steps`` safeguarded ascent steps on one item's free parameters.

    By Fisher's identity the score of the expected complete-data log posterior at the point
    the E-step used is the gradient of the marginal log posterior there, so the first step's
    score is returned for the convergence test, scaled by the standard deviations of the
    item's own information block (how far from the optimum, in SEs, the gradient points).
    """
    free = jnp.asarray(FREE[model])

    def objective(x: jax.Array) -> jax.Array:
        return item_objective(model, priors, clip_phi(x), c_fixed, correct, wrong, grid,
                              no_guessing)  # fmt: skip

    def parts(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        score, information = scoring_parts(grid_scores(*to_params(x, c_fixed, model), grid),
                                           correct, wrong)  # fmt: skip
        prior_grad, prior_curv = prior_terms(priors, x)[1:]
        score = (score + prior_grad)[free]
        return score, information[jnp.ix_(free, free)] - jnp.diag(prior_curv[free])

    def one_step(
        x: jax.Array, _: None
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:  # fmt: skip
        score, information = parts(x)
        fisher = jnp.zeros_like(x).at[free].set(ascent_step(score, information))
        gradient = jnp.zeros_like(x).at[free].set(score)
        inverse, positive = small_inverse(information)
        sd = jnp.where(positive, jnp.sqrt(jnp.abs(jnp.diagonal(inverse))), jnp.inf)
        scaled = jnp.zeros_like(x).at[free].set(jnp.abs(score) * sd)
        return clip_phi(ascent_point(objective, x, fisher, gradient)), (gradient, scaled)

    # The scan's first step starts where the E-step was taken: its score is the gradient.
    new, (gradients, scaled) = jax.lax.scan(one_step, phi, None, length=n_steps)
    return ItemStep(new, gradients[0], scaled[0])
