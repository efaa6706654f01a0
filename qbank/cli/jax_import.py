"""Importing JAX for a one-off command without reading every installed package's metadata.

``import jax`` (0.10) looks for a ROCm plugin by parsing the METADATA file of every installed
distribution (``jax/_src/numpy/array_constructors.py``): ~0.05 s of CPU with 150 distributions,
5 % of a whole ``qbank calibrate-irt`` on a small file. While JAX is imported here,
``importlib.metadata.distributions`` yields only the distributions whose directory names a
``jax_rocm…`` package (and any whose directory it cannot tell), so JAX finds exactly the plugins
it would have found, by their names, without parsing the others. Only that module's call is
narrowed: any other caller during the import (``entry_points``, which JAX uses to find its
CUDA and TPU plugins, today lazily at the first computation) sees every distribution. The
stdlib function is restored as soon as the import returns; a newer JAX that no longer scans
simply does not notice.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["import_jax"]

_ROCM_LOOKUP = "jax._src.numpy.array_constructors"  # the one module that scans, in JAX 0.10


def _may_be_rocm_plugin(distribution: importlib.metadata.Distribution) -> bool:
    folder = getattr(distribution, "_path", None)
    if folder is None:
        return True
    return str(getattr(folder, "name", "")).lower().replace("-", "_").startswith("jax_rocm")


def import_jax() -> None:
    """Import JAX (once per process) with the metadata scan narrowed to its ROCm plugins."""
    if "jax" in sys.modules:
        return
    original = importlib.metadata.distributions

    def distributions(**kwargs: Any) -> Iterable[importlib.metadata.Distribution]:
        found = original(**kwargs)
        if sys._getframe(1).f_globals.get("__name__") != _ROCM_LOOKUP:
            return found  # anyone else (entry points: JAX's PJRT plugins) sees every package
        return (each for each in found if _may_be_rocm_plugin(each))

    importlib.metadata.distributions = distributions
    try:
        importlib.import_module("jax")
    finally:
        importlib.metadata.distributions = original
