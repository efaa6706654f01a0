"""The shipped LSAT-6 data: 1000 examinees, 5 items, the published shares correct."""

import numpy as np

from qbank.irt import lsat6


def test_lsat6_has_1000_examinees_and_its_published_shares_correct():
    patterns, frequencies = lsat6()
    assert patterns.shape == (30, 5)
    assert frequencies.sum() == 1000
    assert len({tuple(row) for row in patterns}) == 30
    # Bock & Lieberman (1970), table 1: proportions correct of items 1–5.
    shares = frequencies @ patterns / 1000
    np.testing.assert_allclose(shares, [0.924, 0.709, 0.553, 0.763, 0.870])
