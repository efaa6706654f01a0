"""Bulk import of questions from JSON or CSV, all or nothing."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError
from qbank.services.authoring.questions import (
    DEFAULT_EXAM_CODE,
    OPTION_LABELS,
    OptionInput,
    QuestionInput,
    insert_question,
)
from qbank.services.exposure.sh_p import write_sh_p
from qbank.store.models import ItemCalibration

__all__ = [
    "ImportItem",
    "ImportReport",
    "import_questions",
    "import_records",
    "parse_records",
    "read_import_file",
]

MAX_IMPORT_ITEMS = 20_000


@dataclass(frozen=True, slots=True)
class ImportItem:
    """A question to import with optional 3PL parameters and S–H k."""

    question: QuestionInput
    a: float | None = None
    b: float | None = None
    c: float | None = None
    sh_p: float | None = None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import created."""

    created: int
    question_ids: list[int]


def _number(record: dict[str, Any], name: str, where: str, strict: bool) -> float | None:
    value = record.get(name)
    if value is None or (not strict and isinstance(value, str) and not value.strip()):
        return None
    if strict and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise InvalidInputError(f"{where}: {name} must be a JSON number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"{where}: {name} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{where}: {name} must be finite")
    return number


def _tags(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise InvalidInputError(f"{where}: tags must be a list of strings")
    return tuple(value)


_TEXT_FIELDS = ("topic_name", "stem_md", "lead_in", "rationale_md", "difficulty_label",
                "external_ref", "exam_code", "bloom_level")  # fmt: skip


def _check_json_types(record: dict[str, Any], where: str) -> None:
    """A JSON record's values have their JSON types: text is a string, a flag a boolean."""
    for name in _TEXT_FIELDS:
        if record.get(name) is not None and not isinstance(record[name], str):
            raise InvalidInputError(f"{where}: {name} must be a string, got {record[name]!r}")
    if record.get("publish") is not None and not isinstance(record["publish"], bool):
        raise InvalidInputError(f"{where}: publish must be true or false")
    options = record.get("options")
    for option in options if isinstance(options, list) else ():
        if not isinstance(option, dict):
            continue  # refused below with the shape's message
        for name in ("label", "text_md", "text"):
            if option.get(name) is not None and not isinstance(option[name], str):
                raise InvalidInputError(f"{where}: option {name} must be a string")
        if option.get("is_correct") is not None and not isinstance(option["is_correct"], bool):
            raise InvalidInputError(f"{where}: option is_correct must be true or false")


def _publish_flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value if isinstance(value, bool) else str(value).strip().lower() != "false"


def _item(
    record: dict[str, Any], where: str, created_by: str, *, strict: bool, publish_default: bool
) -> ImportItem:
    if not isinstance(record, dict):
        raise InvalidInputError(f"{where}: expected an object")
    if strict:
        _check_json_types(record, where)
    options_raw = record.get("options")
    if options_raw is None:  # CSV: option_a … option_j and correct_option
        correct = str(record.get("correct_option") or "").strip().upper()
        options_raw = [
            {"label": label, "text_md": record[f"option_{label.lower()}"],
             "is_correct": label == correct}
            for label in OPTION_LABELS
            if str(record.get(f"option_{label.lower()}") or "").strip()
        ]  # fmt: skip
    if not isinstance(options_raw, list) or not all(isinstance(o, dict) for o in options_raw):
        raise InvalidInputError(f"{where}: options must be a list of objects")
    try:
        options = tuple(
            OptionInput(str(o.get("label", "")), str(o.get("text_md") or o.get("text") or ""),
                        o.get("is_correct") or False)
            for o in options_raw
        )  # fmt: skip
        question = QuestionInput(
            topic_name=str(record.get("topic_name") or ""),
            stem_md=str(record.get("stem_md") or ""),
            lead_in=str(record.get("lead_in") or ""),
            rationale_md=str(record.get("rationale_md") or ""),
            difficulty_label=str(record.get("difficulty_label") or ""), options=options,
            external_ref=(str(record["external_ref"]) if record.get("external_ref") else None),
            exam_code=str(record.get("exam_code") or DEFAULT_EXAM_CODE),
            publish=_publish_flag(record.get("publish"), publish_default),
            bloom_level=record.get("bloom_level") or None, created_by=created_by,
            tags=_tags(record.get("tags"), where),
        )  # fmt: skip
    except InvalidInputError as error:
        raise InvalidInputError(f"{where}: {error}") from None
    values = {name: _number(record, name, where, strict) for name in ("a", "b", "c", "sh_p")}
    if values["a"] is not None and not 0 < values["a"] <= 10:
        raise InvalidInputError(f"{where}: a must be in (0, 10]")
    if values["b"] is not None and abs(values["b"]) > 20:
        raise InvalidInputError(f"{where}: b must be in [-20, 20]")
    if values["c"] is not None and not 0 <= values["c"] < 1:
        raise InvalidInputError(f"{where}: c must be in [0, 1)")
    if values["sh_p"] is not None and not 0 <= values["sh_p"] <= 1:
        raise InvalidInputError(f"{where}: sh_p must be in [0, 1]")
    return ImportItem(question, values["a"], values["b"], values["c"], values["sh_p"])


def read_import_file(
    path: str | Path, created_by: str = "import", publish_default: bool = True
) -> list[ImportItem]:
    """Parse and validate every question of a ``.json`` (list of objects) or ``.csv`` file.

    Raises:
        InvalidInputError: unreadable file or any invalid record (named by its position).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInputError(f"import file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read {path}: {error}") from None
    if path.suffix.lower() == ".json":
        try:
            records = json.loads(text)
        except RecursionError:
            raise InvalidInputError(f"{path} nests JSON too deeply") from None
        except json.JSONDecodeError as error:
            raise InvalidInputError(
                f"{path} is not valid JSON: {error.msg} (line {error.lineno})"
            ) from None
        if not isinstance(records, list):
            raise InvalidInputError(f"{path}: expected a JSON list of questions")
        items = parse_records(records, created_by, publish_default)
    elif path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        items = _checked([
            _item(dict(r), f"line {reader.line_num}", created_by, strict=False,
                  publish_default=publish_default)
            for r in reader
        ])  # fmt: skip
    else:
        raise InvalidInputError(f"import files must end in .json or .csv, got {path.name}")
    return items


def _checked(items: list[ImportItem]) -> list[ImportItem]:
    """A batch is not empty, not too large and names each external_ref once."""
    if not items:
        raise InvalidInputError("no questions to import")
    if len(items) > MAX_IMPORT_ITEMS:
        raise InvalidInputError(f"at most {MAX_IMPORT_ITEMS} questions per import")
    refs = [item.question.external_ref for item in items if item.question.external_ref]
    duplicates = sorted({ref for ref in refs if refs.count(ref) > 1})
    if duplicates:
        raise InvalidInputError(f"duplicate external_ref: {', '.join(duplicates[:5])}")
    return items


def parse_records(
    records: list[Any], created_by: str, publish_default: bool = True
) -> list[ImportItem]:
    """Validate question records (JSON objects, strictly typed); errors name the position.

    A record without ``publish`` is published when ``publish_default`` is true.
    """
    if len(records) > MAX_IMPORT_ITEMS:  # before the per-record work
        raise InvalidInputError(f"at most {MAX_IMPORT_ITEMS} questions per import")
    return _checked([
        _item(r, f"question {i + 1}", created_by, strict=True, publish_default=publish_default)
        for i, r in enumerate(records)
    ])  # fmt: skip


def _insert_all(
    sessions: sessionmaker[Session], tenant_id: str, items: list[ImportItem]
) -> ImportReport:
    try:
        with sessions.begin() as session:
            ids = insert_items(session, tenant_id, items)
    except IntegrityError:
        raise ConflictError(
            "import clashes with existing questions; nothing was imported"
        ) from None
    return ImportReport(len(ids), ids)


def import_records(
    sessions: sessionmaker[Session],
    tenant_id: str,
    records: list[Any],
    created_by: str,
    publish_default: bool = True,
) -> ImportReport:
    """Import question records in one transaction: all of them or none."""
    return _insert_all(sessions, tenant_id, parse_records(records, created_by, publish_default))


def insert_items(session: Session, tenant_id: str, items: list[ImportItem]) -> list[int]:
    """Insert validated items inside the caller's transaction; returns question ids."""
    now = datetime.now(UTC)
    ids: list[int] = []
    exposure: list[tuple[int, int, float]] = []
    for item in items:
        created = insert_question(session, tenant_id, item.question)
        ids.append(created.question_id)
        if item.a is not None or item.b is not None or item.c is not None:
            session.add(ItemCalibration(
                question_id=created.question_id, version=1, model="3pl",
                a=item.a if item.a is not None else 1.0, b=item.b if item.b is not None else 0.0,
                c=item.c if item.c is not None else 0.2, n_respondents=0, updated_at=now,
                changed_by="import",
            ))  # fmt: skip
        if item.sh_p is not None:
            exposure.append((created.question_id, 1, item.sh_p))
    session.flush()
    if exposure:
        write_sh_p(session, exposure, changed_by="import")
    return ids


def import_questions(
    sessions: sessionmaker[Session], tenant_id: str, path: str | Path, created_by: str = "import"
) -> ImportReport:
    """Import every question of a file in one transaction: all of them or none.

    Raises:
        InvalidInputError: a bad record (nothing is written).
        ConflictError: an external_ref already exists in the tenant (nothing is written).
    """
    return _insert_all(sessions, tenant_id, read_import_file(path, created_by))
