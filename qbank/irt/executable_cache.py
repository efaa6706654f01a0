"""Compiled XLA programs kept on disk, so that a new process runs them without tracing again.

JAX's persistent compilation cache (``jax_compilation_cache_dir``, pointed at the data dir by
``qbank.settings.enable_compile_cache``) saves XLA's compile, but every new process still traces
the Python function and lowers it to StableHLO before it can look the program up: for the EM
cycle of ``qbank.irt.mml`` that is ~0.6 s of CPU, more than the fit of a 1 000 × 20 test. This
cache keeps the compiled executable itself (``jax.experimental.serialize_executable``) next to
JAX's cache, keyed by everything that could change the program: the function, its static
arguments, the shapes, dtypes and tree of its arguments, the source of the numeric core
(``qbank/irt``, ``qbank/cat``), the jax and jaxlib versions, ``XLA_FLAGS``, and the CPU (model
and instruction-set flags, so a data dir shared between machines never runs code built for
another processor). A hit costs a file read and an executable load (~0.04 s).

When JAX's cache dir is unset (``QBANK_COMPILE_CACHE=off``) nothing is written or read: the
functions run as plain ``jax.jit`` calls. A file that fails to load is compiled anew and
replaced. Executables are pickles: like JAX's own cache, the directory must be trusted (it is
the user's data dir).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = ["cached_call", "cached_compile", "clear_memory"]

_SUBDIR = "qbank-executables"
_MEMORY: dict[tuple[Any, ...], Any] = {}
_MEMORY_LIMIT = 256  # distinct (function, static args, shapes) kept in a long-running process


def _signature(args: tuple[Any, ...]) -> tuple[Any, ...]:
    leaves, tree = jax.tree_util.tree_flatten(args)
    avals = tuple(
        (tuple(leaf.shape), str(leaf.dtype), bool(getattr(leaf, "weak_type", False)))
        if hasattr(leaf, "shape")
        else ("py", type(leaf).__name__, repr(leaf))
        for leaf in leaves
    )
    return str(tree), avals


@cache
def _environment() -> str:
    """What, besides the call itself, the compiled program depends on."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for room in ("irt", "cat"):
        for path in sorted((root / room).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    import jaxlib

    return "|".join([
        digest.hexdigest(), jax.__version__, getattr(jaxlib, "__version__", ""),
        sys.version.split()[0], os.environ.get("XLA_FLAGS", ""), jax.default_backend(),
        _cpu_identity(),
    ])  # fmt: skip


def _cpu_identity() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    wanted = ("model name", "flags")
    lines = [line for line in text.splitlines() if line.split(":")[0].strip() in wanted]
    return "\n".join(dict.fromkeys(lines))  # the first CPU's lines, once


def _folder() -> Path | None:
    root = getattr(jax.config, "jax_compilation_cache_dir", None)
    return None if not root else Path(root) / _SUBDIR


def cached_compile(function: Any, *args: Any, **static: Any) -> Callable[..., Any]:
    """``function`` (a ``jax.jit`` with ``static`` as its static arguments) compiled for ``args``.

    The compiled callable takes the dynamic arguments only. From memory, else from the disk
    cache, else lowered and compiled here (and saved). Without a cache dir it is compiled here
    and kept in memory only.
    """
    folder = _folder()
    name = f"{function.__module__}.{getattr(function, '__qualname__', function.__name__)}"
    key = (name, tuple(sorted((k, repr(v)) for k, v in static.items())), _signature(args))
    found = _MEMORY.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    if folder is None:
        fresh: Callable[..., Any] = function.lower(*args, **static).compile()
        _remember(key, fresh)
        return fresh
    digest = hashlib.sha256(repr((key, _environment())).encode()).hexdigest()
    path = folder / f"{name.rsplit('.', 1)[-1].strip('_')}-{digest[:40]}.pkl"
    compiled = _load(path)
    if compiled is None:
        compiled = _compile_and_save(function, path, args, static)
    _remember(key, compiled)
    return compiled  # type: ignore[no-any-return]


def _remember(key: tuple[Any, ...], compiled: Any) -> None:
    if len(_MEMORY) >= _MEMORY_LIMIT:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = compiled


def cached_call(function: Any, *args: Any, **static: Any) -> Any:
    """``function(*args, **static)`` through ``cached_compile``; without a cache dir, plainly."""
    if _folder() is None:
        return function(*args, **static)
    return cached_compile(function, *args, **static)(*args)


def clear_memory() -> None:
    """Forget the executables loaded in this process (the disk cache stays)."""
    _MEMORY.clear()


def _load(path: Path) -> Any | None:
    from jax.experimental import serialize_executable

    try:
        payload = path.read_bytes()
    except OSError:
        return None
    try:
        return serialize_executable.deserialize_and_load(*pickle.loads(payload))
    except Exception:  # a truncated or foreign file: compile anew and replace it
        return None


# An executable that JAX loaded from its own persistent cache serializes into a copy that fails
# when run ("Function … not found"), so the copy saved here must come from a fresh compile. The
# program is therefore compiled under a name of its own, made from this cache's key: JAX's cache
# holds a program of that name only if an earlier save of the same key failed or its file was
# deleted, and then the second name is tried.
_ATTEMPTS = ("", "_again")


def _compile_and_save(
    function: Any, path: Path, args: tuple[Any, ...], static: dict[str, Any]
) -> Any:
    compiled = None
    for suffix in _ATTEMPTS:

        def program(*dynamic: Any) -> Any:
            return function(*dynamic, **static)

        program.__name__ = program.__qualname__ = f"{path.stem.replace('-', '_')}{suffix}"
        compiled = jax.jit(program).lower(*args).compile()
        if _save(path, compiled, args):
            break
    return compiled


def _save(path: Path, compiled: Any, args: tuple[Any, ...]) -> bool:
    """Write ``compiled`` if its serialized copy loads and gives the same results on ``args``."""
    from jax.experimental import serialize_executable

    try:
        payload = pickle.dumps(serialize_executable.serialize(compiled))
        copy = serialize_executable.deserialize_and_load(*pickle.loads(payload))
        expected = jax.tree_util.tree_leaves(compiled(*args))
        found = jax.tree_util.tree_leaves(copy(*args))
        same = len(expected) == len(found) and all(
            np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
            for x, y in zip(expected, found, strict=True)
        )
        if not same:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
            handle.write(payload)
        os.replace(handle.name, path)
    except Exception:  # an optimisation only: a program that cannot be saved still runs
        return False
    return True
