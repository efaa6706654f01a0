"""An independent marginal log posterior of a 3PL calibration, for autodiff checks (float64).

Written from the model's definition (θ ~ N(0, 1) on the same 61-point grid over [−6, 6] that
``calibrate_mml`` uses), not from ``qbank.irt.mml``'s pieces, so that its gradient and Hessian
check the fit and its standard errors.
"""

import jax
import jax.numpy as jnp
import numpy as np

from qbank.irt import Priors

D = 1.7


def log_posterior(phi, responses, observed, weights, model, priors: Priors):
    """Marginal log-likelihood plus log priors at φ = (log a, b, logit c), shape (n_items, 3)."""
    grid = jnp.linspace(-6.0, 6.0, 61)
    log_w = -0.5 * grid**2 - jax.nn.logsumexp(-0.5 * grid**2)
    a, b = jnp.exp(phi[:, 0]), phi[:, 1]
    c = jax.nn.sigmoid(phi[:, 2]) if model == "3pl" else jnp.zeros_like(a)
    p = c + (1 - c) * jax.nn.sigmoid(D * a * (grid[:, None] - b))  # (Q, I)
    right = jnp.where(observed, responses, 0.0)
    wrong = jnp.where(observed, 1.0 - responses, 0.0)
    joint = right @ jnp.log(p).T + wrong @ jnp.log1p(-p).T + log_w
    total = weights @ jax.nn.logsumexp(joint, axis=1)
    if priors.a_lognormal is not None:
        mean, sd = priors.a_lognormal
        total += jnp.sum(-phi[:, 0] - 0.5 * ((phi[:, 0] - mean) / sd) ** 2)
    if priors.b_normal is not None:
        mean, sd = priors.b_normal
        total += jnp.sum(-0.5 * ((phi[:, 1] - mean) / sd) ** 2)
    if priors.c_beta is not None and model == "3pl":
        alpha, beta = priors.c_beta
        total += jnp.sum((alpha - 1) * jnp.log(c) + (beta - 1) * jnp.log1p(-c))
    return total


def coordinates(items, model):
    """(n_items, 3) φ of estimated items; the free columns of each model."""
    a, b, c = (np.asarray(x, np.float64) for x in items)
    c = np.clip(c, 1e-12, 1 - 1e-12)
    phi = np.stack([np.log(a), b, np.log(c) - np.log1p(-c)], axis=1)
    columns = {"3pl": [0, 1, 2], "2pl": [0, 1], "1pl": [1]}[model]
    return phi, columns


def gradient_and_hessian(items, responses, weights, model, priors, observed=None):
    """Gradient and Hessian of the log posterior in the model's free φ, flattened item-major."""
    responses = np.asarray(responses, np.float64)
    observed = ~np.isnan(responses) if observed is None else observed
    responses = np.nan_to_num(responses)
    weights = np.ones(responses.shape[0]) if weights is None else np.asarray(weights, float)
    with jax.enable_x64(True):
        phi, columns = coordinates(items, model)
        base = jnp.asarray(phi)
        index = jnp.asarray(columns)

        def f(x):
            full = base.at[:, index].set(x.reshape(phi.shape[0], len(columns)))
            return log_posterior(full, jnp.asarray(responses), jnp.asarray(observed),
                                 jnp.asarray(weights), model, priors)  # fmt: skip

        x0 = jnp.asarray(phi[:, columns].reshape(-1))
        return np.asarray(jax.grad(f)(x0)), np.asarray(jax.hessian(f)(x0))
