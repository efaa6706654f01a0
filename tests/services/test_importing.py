import csv
import json

import pytest

from qbank.errors import ConflictError, InvalidInputError
from qbank.services.authoring.catalog import list_questions
from qbank.services.authoring.importing import import_questions
from qbank.services.delivery.item_pool import load_exam_pool

HEADER = ["external_ref", "topic_name", "exam_code", "stem_md", "lead_in", "rationale_md",
          "difficulty_label", "option_a", "option_b", "option_c", "correct_option", "a", "b", "c",
          "sh_p"]  # fmt: skip


def write_csv(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def row(i, **changes):
    values = dict(zip(HEADER, [f"CSV-{i}", "Cardiology", "EX", f"Stem {i}", "Diagnosis?",
                               "Because.", "easy", "Angina", "Reflux", "Asthma", "A", "1.3",
                               "-0.5", "0.15", "0.7"], strict=True))  # fmt: skip
    values.update(changes)
    return [values[name] for name in HEADER]


def test_csv_import_with_calibration_and_k(session_factory, tmp_path):
    path = write_csv(tmp_path / "q.csv", [row(1), row(2, sh_p="", a="")])
    report = import_questions(session_factory, "t", path)
    assert report.created == 2
    pool = load_exam_pool(session_factory, "t", "EX")
    assert pool.k.tolist() == pytest.approx([0.7, 1.0])
    assert pool.items.a.tolist() == pytest.approx([1.3, 1.0])
    assert float(pool.items.c[1]) == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"correct_option": "Z"}, "line 3: exactly one option"),
        ({"a": "-1"}, "line 3: a must be"),
        ({"sh_p": "2"}, "sh_p must be"),
        ({"difficulty_label": "meh"}, "difficulty_label"),
        ({"b": "abc"}, "b is not a number"),
    ],
)
def test_one_bad_row_imports_nothing(session_factory, tmp_path, changes, message):
    path = write_csv(tmp_path / "q.csv", [row(1), row(2, **changes)])
    with pytest.raises(InvalidInputError, match=message):
        import_questions(session_factory, "t", path)
    assert list_questions(session_factory, "t").total == 0


def test_existing_refs_conflict_and_import_nothing(session_factory, tmp_path):
    import_questions(session_factory, "t", write_csv(tmp_path / "a.csv", [row(1)]))
    with pytest.raises(ConflictError, match="CSV-1"):
        import_questions(session_factory, "t", write_csv(tmp_path / "b.csv", [row(5), row(1)]))
    assert list_questions(session_factory, "t").total == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("q.json", "{}", "JSON list"),
        ("q.json", "[", "not valid JSON"),
        ("q.txt", "x", ".json or .csv"),
        ("q.json", "[]", "no questions"),
        ("q.json", json.dumps([{"options": 3}]), "question 1"),
    ],
)
def test_bad_files_are_refused(session_factory, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        import_questions(session_factory, "t", path)


def test_multiline_csv_fields_survive(session_factory, tmp_path):
    path = write_csv(tmp_path / "q.csv", [row(1, stem_md="Line one\nline two")])
    import_questions(session_factory, "t", path)
    assert list_questions(session_factory, "t").items[0].stem_md == "Line one\nline two"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "options": [
                    {"label": "A", "text_md": "x", "is_correct": "false"},
                    {"label": "B", "text_md": "y", "is_correct": True},
                ]
            },
            "true or false",
        ),
        ({"stem_md": "nul\x00byte"}, "NUL"),
        ({"exam_code": "E" * 65}, "exam_code"),
        ({"bloom_level": {"x": 1}}, "bloom_level"),
    ],
)
def test_json_values_both_backends_would_store_differently_are_refused(
    session_factory, tmp_path, change, message
):
    record = {"external_ref": "J-1", "topic_name": "Cardiology", "stem_md": "Stem",
              "lead_in": "Q?", "rationale_md": "R", "difficulty_label": "easy",
              "options": [{"label": "A", "text_md": "x", "is_correct": True},
                          {"label": "B", "text_md": "y"}], **change}  # fmt: skip
    path = tmp_path / "q.json"
    path.write_text(json.dumps([record]))
    with pytest.raises(InvalidInputError, match=message):
        import_questions(session_factory, "t", path)
    assert list_questions(session_factory, "t").total == 0


def test_deeply_nested_json_is_refused(session_factory, tmp_path):
    path = tmp_path / "q.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidInputError, match="too deeply"):
        import_questions(session_factory, "t", path)
