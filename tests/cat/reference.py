"""A plain-Python reference of the CAT simulation, written from DESIGN.md, independent of qbank.

Loops over simulees and positions; walks the candidates by descending information, drawing one
lottery at a time, exactly as the design describes the Sympson–Hetter rule.
"""

import math

import numpy as np

D = 1.7


def _p(theta, a, b, c):
    return c + (1 - c) / (1 + math.exp(-D * a * (theta - b)))


def _info(theta, a, b, c):
    p = _p(theta, a, b, c)
    return D * D * a * a * ((1 - p) / p) * ((p - c) / (1 - c)) ** 2


def simulate_reference(
    rng, a, b, c, k, true_theta, test_len, select_at_true=False, set_aside=False, considered=None
):
    """Returns administered item indices (n, test_len) and final EAP θ̂ (n,).

    With ``set_aside`` (Sympson & Hetter 1985) an item whose lottery failed is not a candidate
    again in that test, and ``considered`` (an array of n_items counts, if given) counts for how
    many simulees the walk ever reached each item.
    """
    grid = np.linspace(-4, 4, 61)
    n_items = len(a)
    administered = np.zeros((len(true_theta), test_len), int)
    final = np.zeros(len(true_theta))
    for person, theta in enumerate(true_theta):
        posterior = np.exp(-0.5 * grid**2)
        theta_hat = 0.0
        given, rejected, walked = set(), set(), set()
        for position in range(test_len):
            at = theta if select_at_true else theta_hat
            candidates = sorted(
                (i for i in range(n_items) if i not in given and i not in rejected),
                key=lambda i, at=at: -_info(at, a[i], b[i], c[i]),
            )
            if set_aside and not candidates:  # set-aside items left none: they are released
                rejected.clear()
                candidates = sorted(
                    (i for i in range(n_items) if i not in given),
                    key=lambda i, at=at: -_info(at, a[i], b[i], c[i]),
                )
            chosen, passed = None, []
            for i in candidates:
                passed.append(i)
                if rng.random() < k[i]:
                    chosen = i
                    break
            if chosen is None:  # every lottery failed: the most informative, considered alone
                chosen, passed = candidates[0], candidates[:1]
            walked.update(passed)
            if set_aside:
                rejected.update(i for i in passed if i != chosen)
            given.add(chosen)
            administered[person, position] = chosen
            correct = rng.random() < _p(theta, a[chosen], b[chosen], c[chosen])
            p_grid = c[chosen] + (1 - c[chosen]) / (1 + np.exp(-D * a[chosen] * (grid - b[chosen])))
            posterior = posterior * (p_grid if correct else 1 - p_grid)
            posterior /= posterior.sum()
            theta_hat = float((posterior * grid).sum())
        final[person] = theta_hat
        if considered is not None:
            considered[list(walked)] += 1
    return administered, final
