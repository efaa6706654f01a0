"""QBank: a question bank with computerized adaptive testing on one JAX core.

Importing ``qbank`` stays light: the numeric core lives in ``qbank.irt`` and ``qbank.cat``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
