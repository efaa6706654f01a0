"""Item pools as CSV files (columns qid,ver,topic,a,b,c,k) and generated pools."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from qbank.cat import synthetic_pool
from qbank.errors import InvalidInputError
from qbank.figures import round_figure
from qbank.irt import DEFAULT_A, DEFAULT_B, DEFAULT_C, MAX_A, MAX_ABS_B, ItemParams
from qbank.services.delivery.pool import ItemPool, StoredValues

__all__ = [
    "POOL_COLUMNS",
    "demo_pool",
    "generate_pool",
    "read_pool_csv",
    "write_k_csv",
]

POOL_COLUMNS = ("qid", "ver", "topic", "a", "b", "c", "k")
MAX_POOL_SIZE = 100_000
_Row = tuple[str, int, str, float, float, float, float]  # qid, ver, topic, a, b, c, k
DEMO_TOPICS = (
    "Cardiology",
    "Nephrology",
    "Pulmonology",
    "Gastroenterology",
    "Endocrinology",
    "Neurology",
    "Hematology",
    "Infectious Disease",
    "Rheumatology",
    "Oncology",
    "Pharmacology",
    "Emergency Medicine",
)
DEMO_POOL_SIZE, DEMO_POOL_SEED = 600, 2026


def _number(row: dict[str, str], column: str, line: int, default: float) -> float:
    text = (row.get(column) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"line {line}: column {column} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"line {line}: column {column} must be finite, got {text!r}")
    return value


def _parse_row(row: dict[str, str], line: int) -> _Row:
    qid = (row.get("qid") or "").strip()
    if not qid:
        raise InvalidInputError(f"line {line}: qid is empty")
    ver_text = (row.get("ver") or "").strip()
    if not re.fullmatch(r"[0-9]{1,9}", ver_text) or int(ver_text) < 1:
        raise InvalidInputError(f"line {line}: ver must be a positive integer, got {ver_text!r}")
    a = _number(row, "a", line, DEFAULT_A)
    b = _number(row, "b", line, DEFAULT_B)
    c = _number(row, "c", line, DEFAULT_C)
    k = _number(row, "k", line, 1.0)
    if not 0 < a <= MAX_A:
        raise InvalidInputError(f"line {line}: a must be in (0, {MAX_A:g}], got {a}")
    if abs(b) > MAX_ABS_B:
        raise InvalidInputError(
            f"line {line}: b must be in [-{MAX_ABS_B:g}, {MAX_ABS_B:g}], got {b}"
        )
    if not 0 <= c < 1:
        raise InvalidInputError(f"line {line}: c must be in [0, 1), got {c}")
    if not 0 <= k <= 1:
        raise InvalidInputError(f"line {line}: k must be in [0, 1], got {k}")
    return qid, int(ver_text), (row.get("topic") or "").strip(), a, b, c, k


def _parse_rows(reader: csv.DictReader[str]) -> list[_Row]:
    rows: list[_Row] = []
    seen: set[tuple[str, int]] = set()
    for row in reader:
        parsed = _parse_row(row, reader.line_num)  # line_num counts blank lines too
        if parsed[:2] in seen:
            raise InvalidInputError(
                f"line {reader.line_num}: duplicate item qid={parsed[0]} ver={parsed[1]}"
            )
        seen.add(parsed[:2])
        rows.append(parsed)
    return rows


def _pool_from_rows(rows: list[_Row]) -> ItemPool:
    qids, versions, topics, a, b, c, k = (list(column) for column in zip(*rows, strict=True))
    stored = StoredValues(*(np.asarray(values, np.float64) for values in (a, b, c, k)))
    items = ItemParams(*(jnp.asarray(values, jnp.float32) for values in stored[:3]))
    return ItemPool(qids, versions, topics, items, stored.k.astype(np.float32), stored=stored)


def read_pool_csv(path: str | Path) -> ItemPool:
    """Read a pool CSV. Empty a/b/c/k cells take DESIGN.md's defaults; extra columns are ignored.

    Raises:
        InvalidInputError: missing file or column, a bad value (with its line), a duplicate
            (qid, ver), or no rows.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [name for name in POOL_COLUMNS if name not in header]
            if missing:
                raise InvalidInputError(
                    f"{path}: missing column(s) {', '.join(missing)}; "
                    f"expected {','.join(POOL_COLUMNS)}"
                )
            reader.fieldnames = header
            rows = _parse_rows(reader)
    except FileNotFoundError:
        raise InvalidInputError(f"pool file not found: {path}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError, csv.Error) as error:
        raise InvalidInputError(f"cannot read pool file {path}: {error}") from None
    if not rows:
        raise InvalidInputError(f"{path}: the pool has no items")
    return _pool_from_rows(rows)


def generate_pool(
    n_items: int, seed: int = 0, topics: tuple[str, ...] | None = None, prefix: str = "Q"
) -> ItemPool:
    """A synthetic pool (see ``qbank.cat.synthetic_pool``) with k = 1, topics in rotation."""
    if isinstance(n_items, int) and n_items > MAX_POOL_SIZE:
        raise InvalidInputError(
            f"a generated pool has at most {MAX_POOL_SIZE} items, got {n_items}"
        )
    items = synthetic_pool(jax.random.key(seed), n_items)
    topic_names = topics or tuple(f"T{index + 1:02d}" for index in range(10))
    qids = [f"{prefix}{index + 1:05d}" for index in range(n_items)]
    item_topics = [topic_names[index % len(topic_names)] for index in range(n_items)]
    return ItemPool(qids, [1] * n_items, item_topics, items, np.ones(n_items, np.float32))


def demo_pool() -> ItemPool:
    """The built-in demo pool: 600 generated items over 12 clinical topics, always the same."""
    return generate_pool(DEMO_POOL_SIZE, DEMO_POOL_SEED, DEMO_TOPICS, prefix="DEMO-")


def write_k_csv(path: str | Path, pool: ItemPool, k_after: np.ndarray) -> None:
    """Write the pool with its new k, readable again by ``read_pool_csv``.

    Columns qid,ver,topic,a,b,c,k (the new k) and k_before, so runs can be chained.
    Values read from a file are written back as read; the new k has 6 significant digits
    (``qbank.figures``), and an item whose k did not change keeps its value exactly.
    """
    stored = pool.stored
    if stored is None:
        a, b, c = (np.asarray(values, np.float64) for values in pool.items)
        before = np.asarray(pool.k, np.float64)
    else:
        a, b, c, before = stored
    unchanged = np.asarray(k_after, np.float32) == np.asarray(before, np.float32)
    after = [float(old) if same else round_figure(float(new))
             for old, new, same in zip(before, k_after, unchanged, strict=True)]  # fmt: skip
    columns = zip(pool.qids, pool.versions, pool.topics, a, b, c, after, before, strict=True)
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*POOL_COLUMNS, "k_before"])
            for qid, ver, topic, *numbers in columns:
                writer.writerow([qid, ver, topic, *(repr(float(value)) for value in numbers)])
    except OSError as error:
        raise InvalidInputError(f"cannot write {path}: {error.strerror}") from None
