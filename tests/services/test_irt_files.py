"""Reading a long response CSV: the matrix, and the earliest problem reported as a line."""

import numpy as np
import pytest

from qbank.errors import InvalidInputError
from qbank.services.calibration.irt_files import read_responses_csv


def _write(tmp_path, lines):
    path = tmp_path / "answers.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_persons_and_items_in_order_of_first_appearance(tmp_path):
    path = _write(tmp_path, ["item,score,person", "i2,1,p2", "i1,,p1", "i1,0,p2", "i1,1,p3",
                             "i2,0,p3"])  # fmt: skip
    persons, items, matrix = read_responses_csv(path)
    assert persons == ["p2", "p3"]  # p1 answered nothing
    assert items == ["i2", "i1"]
    np.testing.assert_array_equal(matrix, [[1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        # a bad score on line 3 comes before the repeated pair on line 4
        (["p1,i1,1", "p2,i1,2", "p1,i1,0"], "line 3: score must be 0 or 1"),
        # the repeat on line 3 comes before the empty person on line 4
        (["p1,i1,1", "p1,i1,0", ",i2,1"],
         "line 3: person 'p1' already answered item 'i1' on line 2"),
        # on one line the score is checked before the repeat
        (["p1,i1,1", "p1,i1,2"], "line 3: score must be 0 or 1"),
        (["p1,i1,1", "", "p2,i1,1"], "line 3: person and item must not be empty"),
        (["p1,i1,", "p2,i1,"], "no responses"),
    ],
)  # fmt: skip
def test_the_earliest_problem_is_reported(tmp_path, lines, message):
    with pytest.raises(InvalidInputError, match=message):
        read_responses_csv(_write(tmp_path, ["person,item,score", *lines]))
