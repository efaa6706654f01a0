"""Plain numpy references for the stopping rules and the blueprint, independent of qbank.

EAP on the same 61-point grid on [−4, 4] with a N(0, 1) prior, in float64.
"""

import numpy as np

D = 1.7
GRID = np.linspace(-4.0, 4.0, 61)


def prob(theta, a, b, c):
    return c + (1 - c) / (1 + np.exp(-D * a * (theta - b)))


def info(theta, a, b, c):
    p = prob(theta, a, b, c)
    return D * D * a * a * ((1 - p) / p) * ((p - c) / (1 - c)) ** 2


def eap(a, b, c, responses):
    """(θ̂, posterior SD) after the responses to items (a, b, c), each a sequence."""
    log_post = -0.5 * GRID**2
    for ai, bi, ci, u in zip(a, b, c, responses, strict=True):
        p = prob(GRID, ai, bi, ci)
        log_post = log_post + np.log(p if u else 1 - p)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    mean = float(np.sum(w * GRID))
    return mean, float(np.sqrt(np.sum(w * (GRID - mean) ** 2)))


def kingsbury_zara_topics(targets, available_per_topic, test_len):
    """Topic of each position under Kingsbury & Zara (1989), written from the paper's rule.

    ``targets`` maps topic → proportion (topics taken in sorted order, ties to the first);
    ``available_per_topic`` maps topic → how many items it has.
    """
    names = sorted(targets)
    left = dict(available_per_topic)
    given = dict.fromkeys(names, 0)
    order = []
    for n in range(test_len):
        best, best_gap = None, -np.inf
        for name in names:
            if left.get(name, 0) == 0:
                continue
            gap = targets[name] - (given[name] / n if n else 0.0)
            if gap > best_gap + 1e-12:
                best, best_gap = name, gap
        order.append(best)
        given[best] += 1
        left[best] -= 1
    return order
