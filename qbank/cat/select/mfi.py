"""Maximum Fisher information (Lord 1980; catR's ``MFI``): information at θ̂."""

from __future__ import annotations

import jax

from qbank.cat.select.context import SelectionContext, mask_scores
from qbank.irt.model import ItemParams, information

__all__ = ["score_mfi"]


def score_mfi(items: ItemParams, context: SelectionContext, available: jax.Array) -> jax.Array:
    """I_i(θ̂) of each available item."""
    info = information(context.theta_hat, items.a, items.b, items.c)
    return mask_scores(info, available)
