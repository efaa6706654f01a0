"""Standard errors of MML item estimates from the full observed information (Louis 1982).

The observed information of the marginal log-likelihood l(φ) = Σ_p log ∫ Π_i f_i(x_pi | θ) dG(θ)
is, by Louis' (1982) identity, with s_p(θ) the complete-data score of person p and every
expectation under the person's posterior of θ:

    −∇²l = Σ_p ( −E[∇² log f_p] − E[s_p s_pᵀ] + E[s_p] E[s_p]ᵀ ).

The first term is block diagonal (one block per item). The other two couple items, because one
θ enters every answer of a person: their cross-item blocks are what per-item blocks (BILOG-MG's
choice) leave out, which understates the SEs, b's most on short tests. All three terms are
computed exactly on the quadrature grid, so the result equals an autodiff Hessian of the
quadrature marginal up to rounding: Louis' form rather than a numerical Hessian because it
needs one pass over the data and no differencing step to tune; rather than the cross-product
(XPD) estimator because XPD is unstable in small samples.

E[s sᵀ]'s cross blocks need, per grid point q, the posterior-weighted co-occurrence counts
M_q(u, v)_ij = Σ_p w_p π_pq u_pi v_pj of right and wrong answers: one (items × items) matrix
product per grid point (one in all for complete data), accumulated in a scan so that no
(persons, points, items) array is built; the counts are accumulated in float32 (see
``_COUNTS_DTYPE``). The matrix is inverted on the host in float64.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from qbank.irt.mml_data import ResponseData
from qbank.irt.mml_items import GridTerms, Priors, prior_terms

__all__ = ["ERROR_COORDS", "information_matrix", "standard_deviations"]

# The co-occurrence counts M_q are the cost of the SEs (persons × items² per grid point): they
# are sums of non-negative terms, so float32 loses nothing that matters (the SEs of a 100-item,
# 20 000-person 2PL agree with float64 counts to 1e-4 relative) and XLA's CPU matrix product
# runs several times faster in it. Everything else, and the inversion, stays float64.
_COUNTS_DTYPE = jnp.float32

ERROR_COORDS: dict[str, tuple[int, ...]] = {"3pl": (0, 1, 2), "2pl": (0, 1), "1pl": (0, 1)}
"""φ coordinates (log a, b, logit c) whose information is built for each model; the 1PL's
log a is per item here and summed into the common a afterwards."""


@partial(jax.jit, static_argnames=("model", "priors", "complete"))
def information_matrix(
    terms: GridTerms, data: ResponseData, posterior: jax.Array, phi: jax.Array,
    model: str, priors: Priors, complete: bool,
) -> jax.Array:  # fmt: skip
    """(I·K, I·K) observed information of every item's coordinates ``ERROR_COORDS[model]``.

    ``posterior`` is (persons, points), rows summing to 1; the log prior's curvature is
    included (per item; the 1PL's common-a prior is added by the caller once).
    """
    keep = jnp.asarray(ERROR_COORDS[model])
    grad_p, grad_q = terms.grad_p[..., keep], terms.grad_q[..., keep]  # (I, Q, K)
    curv_p = terms.curv_p[..., keep[:, None], keep[None, :]]
    curv_q = terms.curv_q[..., keep[:, None], keep[None, :]]
    n_items, n_points, k = grad_p.shape
    weighted = posterior * data.weights[:, None]  # (P, Q)
    right, wrong = data.correct.T @ weighted, data.wrong.T @ weighted  # (I, Q)
    # −E[∇² log f]: Σ_q r (∇P∇Pᵀ/P² − ∇²P/P) + (n − r) (…Q…), item by item.
    hess_p = curv_p - grad_p[..., :, None] * grad_p[..., None, :]
    hess_q = curv_q - grad_q[..., :, None] * grad_q[..., None, :]
    own = -(jnp.einsum("iq,iqkl->ikl", right, hess_p) + jnp.einsum("iq,iqkl->ikl", wrong, hess_q))
    eye = jnp.eye(n_items, dtype=phi.dtype)
    first = jnp.einsum("ij,ikl->ikjl", eye, own)

    correct_low = data.correct.astype(_COUNTS_DTYPE)  # 0/1: exact in any precision

    def add_point(total: jax.Array, q: jax.Array) -> tuple[jax.Array, None]:
        w = weighted[:, q]
        both = ((correct_low * w[:, None].astype(_COUNTS_DTYPE)).T @ correct_low).astype(
            phi.dtype
        )  # M(right, right)
        if complete:  # wrong = 1 − right: the other counts follow from the margins
            r, n = right[:, q], jnp.sum(w)
            rw = r[:, None] - both
            ww = n - r[:, None] - r[None, :] + both
        else:
            wrong_low, w_low = data.wrong.astype(_COUNTS_DTYPE), w[:, None].astype(_COUNTS_DTYPE)
            rw = ((correct_low * w_low).T @ wrong_low).astype(phi.dtype)
            ww = ((wrong_low * w_low).T @ wrong_low).astype(phi.dtype)
        gp, gq = grad_p[:, q], grad_q[:, q]  # (I, K)
        block = (jnp.einsum("ij,ik,jl->ikjl", both, gp, gp)
                 + jnp.einsum("ij,ik,jl->ikjl", rw, gp, gq)
                 + jnp.einsum("ji,ik,jl->ikjl", rw, gq, gp)
                 + jnp.einsum("ij,ik,jl->ikjl", ww, gq, gq))  # fmt: skip
        return total + block, None

    second, _ = jax.lax.scan(add_point, jnp.zeros((n_items, k, n_items, k), phi.dtype),
                             jnp.arange(n_points))  # fmt: skip
    mean_p = jnp.einsum("pq,iqk->pik", posterior, grad_p)
    mean_q = jnp.einsum("pq,iqk->pik", posterior, grad_q)
    mean = (data.correct[..., None] * mean_p + data.wrong[..., None] * mean_q).reshape(
        -1, n_items * k
    )
    third = (mean * data.weights[:, None]).T @ mean
    prior_curv = jax.vmap(lambda x: prior_terms(priors, x)[2])(phi)[:, keep]  # (I, K)
    total = (first - second).reshape(n_items * k, n_items * k) + third
    if model == "1pl":  # the common a's prior counts once, added by the caller
        prior_curv = prior_curv.at[:, 0].set(0.0)
    return total - jnp.diag(prior_curv.reshape(-1))


def standard_deviations(
    information: np.ndarray, free: np.ndarray, model: str, common_prior_curv: float = 0.0
) -> np.ndarray:
    """(I, 3) SDs of φ (NaN where not estimated), from the inverse of the full information.

    The 1PL's coordinates are (common log a, b_1 … b_I): the information of the common a is the
    sum of the per-item log-a blocks over the estimated items. Items whose own block is not
    positive definite (a degenerate item at the edge of the box) get NaN and are left out of
    the inversion; if what is left is still not positive definite, every SD is NaN.
    """
    k = len(ERROR_COORDS[model])
    n_items = free.shape[0]
    info = np.asarray(information, np.float64).reshape(n_items, k, n_items, k)
    sd = np.full((n_items, 3), np.nan)
    if model == "1pl":
        a_row = info[:, 0][free].sum(axis=0)  # (I, K): Σ_i over free items
        aa = float(a_row[:, 0][free].sum()) - common_prior_curv
        ab = a_row[:, 1][free]
        bb = info[:, 1][:, :, 1][np.ix_(free, free)]
        matrix = np.block([[np.array([[aa]]), ab[None, :]], [ab[:, None], bb]])
        ok = _positive_inverse(matrix)
        if ok is not None:
            variances = np.sqrt(np.abs(np.diag(ok)))
            sd[free, 0] = variances[0]
            sd[free, 1] = variances[1:]
        return sd
    blocks = np.array([info[i, :, i, :] for i in range(n_items)])
    usable = free & np.array([_positive_inverse(b) is not None for b in blocks])
    index = np.flatnonzero(usable)
    if index.size == 0:
        return sd
    matrix = info[index][:, :, index].reshape(index.size * k, index.size * k)
    inverse = _positive_inverse(matrix)
    if inverse is not None:
        coords = np.asarray(ERROR_COORDS[model])
        sd[np.ix_(index, coords)] = np.sqrt(np.abs(np.diag(inverse))).reshape(index.size, k)
    return sd


def _positive_inverse(matrix: np.ndarray) -> np.ndarray | None:
    """Inverse of a symmetric matrix if it is positive definite (Cholesky), else None."""
    symmetric = 0.5 * (matrix + matrix.T)
    if not np.all(np.isfinite(symmetric)):
        return None
    try:
        lower = np.linalg.cholesky(symmetric)
    except np.linalg.LinAlgError:
        return None
    inverse_lower = np.linalg.solve(lower, np.eye(lower.shape[0]))
    return inverse_lower.T @ inverse_lower
