"""Importing JAX for a one-off command without reading every installed package's metadata.

``import jax`` (0.10) looks for a ROCm plugin by parsing the METADATA file of every installed
distribution (``jax/_src/numpy/array_constructors.py``): ~0.05 s of CPU with 150 distributions,
5 % of a whole ``qbank calibrate-irt`` on a small file. While JAX is imported here,
``importlib.metadata.distributions`` yields only the distributions whose directory names a
``jax_rocm…`` package (and any whose directory it cannot tell), so JAX finds exactly the plugins
it would have found, by their names, without parsing the others. The stdlib function is restored
as soon as the import returns; a newer JAX that no longer scans simply does not notice.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["import_jax"]


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

    def distributions(**kwargs: Any) -> Iterator[importlib.metadata.Distribution]:
        return (found for found in original(**kwargs) if _may_be_rocm_plugin(found))

    importlib.metadata.distributions = distributions
    try:
        importlib.import_module("jax")
    finally:
        importlib.metadata.distributions = original
