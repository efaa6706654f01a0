"""IRT calibration of a long-format response file: ``person,item,score`` per line."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qbank.errors import InvalidInputError
from qbank.irt import MmlSettings, calibrate_mml
from qbank.irt.mml import CycleProgress

__all__ = ["REQUIRED_COLUMNS", "calibrate_responses_file", "read_responses_csv"]

REQUIRED_COLUMNS = ("person", "item", "score")


def _rows(path: str) -> tuple[dict[str, int], list[list[str]]]:
    """Column positions of the header and the data rows (``csv.reader``: plain lists)."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                raise InvalidInputError(
                    f"{path}: missing column(s) {', '.join(missing)}; "
                    f"the header needs {','.join(REQUIRED_COLUMNS)}"
                )
            return {name: header.index(name) for name in REQUIRED_COLUMNS}, list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InvalidInputError(f"cannot read {path}: {error}") from None


def read_responses_csv(path: str) -> tuple[list[str], list[str], np.ndarray]:
    """Persons, items (in order of first appearance) and the (persons, items) 0/1 matrix.

    An empty score means the item was presented but not answered; a person's second score for
    the same item is an error. Read with ``csv.reader`` into plain lists: for the files this
    command sees (10⁴–10⁶ lines) that is faster than importing pandas (0.2 s) to read them.

    Raises:
        InvalidInputError: unreadable file, missing column, empty person or item, a score other
            than 0/1, a repeated person-item pair, no responses, or an item answered by nobody.
    """
    columns, rows = _rows(path)
    at_person, at_item, at_score = (columns[name] for name in REQUIRED_COLUMNS)
    width = max(columns.values()) + 1
    if any(len(row) < width for row in rows):
        rows = [row + [""] * (width - len(row)) for row in rows]
    # Column by column (list comprehensions and NumPy rather than one Python step per line:
    # 3× faster on 20 000 lines); each check finds its first offending line, and the earliest
    # of them is reported, as a line-by-line reading would.
    person_of = [row[at_person].strip() for row in rows]
    item_of = [row[at_item].strip() for row in rows]
    score_of = [row[at_score].strip() for row in rows]
    problems: list[tuple[int, int, str]] = []  # (row, order of the check on a line, text)
    empty = next((i for i, (p, q) in enumerate(zip(person_of, item_of, strict=True))
                  if not p or not q), None)  # fmt: skip
    if empty is not None:
        problems.append((empty, 0, f"{path}, line {empty + 2}: person and item must not be empty"))
    bad = next((i for i, x in enumerate(score_of) if x and x != "0" and x != "1"), None)
    if bad is not None:
        problems.append((bad, 1, f"{path}, line {bad + 2}: score must be 0 or 1, "
                              f"got {score_of[bad]!r}"))  # fmt: skip
    items = {name: i for i, name in enumerate(dict.fromkeys(item_of))}
    scored = np.flatnonzero(np.array([bool(x) for x in score_of], dtype=bool))
    persons = {name: i for i, name in enumerate(dict.fromkeys(person_of[i] for i in scored))}
    row_of = np.fromiter((persons[person_of[i]] for i in scored), np.int64, scored.size)
    column_of = np.fromiter((items[item_of[i]] for i in scored), np.int64, scored.size)
    cell = row_of * max(len(items), 1) + column_of
    _, first = np.unique(cell, return_index=True)
    if first.size < cell.size:
        repeated = np.ones(cell.size, bool)
        repeated[first] = False
        again = int(np.flatnonzero(repeated)[0])  # earliest second answer, in file order
        before = int(scored[np.flatnonzero(cell == cell[again])[0]])
        line = int(scored[again])
        text = (f"{path}, line {line + 2}: person {person_of[line]!r} already answered item "
                f"{item_of[line]!r} on line {before + 2}")  # fmt: skip
        problems.append((line, 2, text))
    if problems:
        raise InvalidInputError(min(problems)[2])
    if not scored.size:
        raise InvalidInputError(f"{path}: no responses")
    matrix = np.full((len(persons), len(items)), np.nan)
    matrix[row_of, column_of] = np.array([score_of[i] == "1" for i in scored], np.float64)
    names = list(items)
    nobody = [names[i] for i in np.flatnonzero(np.isnan(matrix).all(axis=0))]
    if nobody:
        raise InvalidInputError(f"{path}: item {nobody[0]!r} was answered by nobody")
    return list(persons), names, matrix


def _number(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


def calibrate_responses_file(
    path: str,
    settings: MmlSettings,
    on_cycle: Callable[[CycleProgress], object] | None = None,
) -> dict[str, Any]:
    """Calibrate the items of a response file; the JSON-ready report.

    ``{"model", "items": [{item, a, b, c, se_a, se_b, se_c, n}], "loglik", "cycles",
    "converged", "stop_reason", "unconverged_items" (item names), "message", "n_persons"}``,
    a in the D = 1.7 metric; SEs are null where not estimated.
    """
    persons, names, matrix = read_responses_csv(path)
    fit = calibrate_mml(matrix, settings=settings, on_cycle=on_cycle)
    respondents = (~np.isnan(matrix)).sum(axis=0)
    # On the host first: indexing a JAX array element by element runs a small program each time.
    a, b, c = (np.asarray(x) for x in fit.items)
    se_a, se_b, se_c = (np.asarray(x) for x in fit.standard_errors)
    items = [
        {"item": name, "a": _number(a[i]), "b": _number(b[i]), "c": _number(c[i]),
         "se_a": _number(se_a[i]), "se_b": _number(se_b[i]), "se_c": _number(se_c[i]),
         "n": int(respondents[i])}
        for i, name in enumerate(names)
    ]  # fmt: skip
    return {
        "model": settings.model, "items": items, "loglik": _number(fit.loglik),
        "cycles": fit.cycles, "converged": fit.converged, "stop_reason": fit.stop_reason,
        "unconverged_items": [names[i] for i in fit.unconverged_items],
        "message": fit.message, "n_persons": len(persons),
    }  # fmt: skip
