"""The project's promises: pins agree, CI runs the README's command, imports stay light."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    return {
        re.split(r"[=<>!~\[]", line, maxsplit=1)[0].lower(): line.replace(" ", "") for line in lines
    }


def test_environment_yml_pins_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [
        dep for deps in project["optional-dependencies"].values() for dep in deps
    ]
    conda_lines = re.findall(
        r"^\s+- ([A-Za-z][\w.-]*==\S+)\s*$", (ROOT / "environment.yml").read_text(), flags=re.M
    )
    assert _pins(conda_lines) == _pins(declared)
    assert all("==" in dep for dep in declared), "pin exact versions so both files can agree"


def _readme_commands():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:sh|bash)\n(.+?)\n```", quick_start, flags=re.S)


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    test_command = commands[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_importing_qbank_stays_light():
    code = (
        "import sys, qbank; heavy = {'jax', 'litestar', 'panel', 'sqlalchemy', 'click'}"
        " & set(sys.modules); print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_numeric_core_imports_no_storage_or_web():
    code = (
        "import sys, qbank.cat, qbank.irt; bad = {'sqlalchemy', 'redis', 'rq', 'litestar',"
        " 'panel', 'click', 'pandas'} & set(sys.modules); print(sorted(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_readme_says_how_later_commands_find_qbank():
    readme = (ROOT / "README.md").read_text()
    after_quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert ". .venv/bin/activate" in after_quick_start  # the install does not activate the venv
    assert "`.venv/bin/qbank …`" in after_quick_start


def test_the_readme_documents_the_api_contract():
    api = (ROOT / "README.md").read_text().split("\n## HTTP API\n", 1)[1].split("\n## ", 1)[0]
    for words in ("GET /v1/quizzes/{id}", "GET /v1/exams", "{total, page, page_size, items}",
                  "rows_written", "values_changed", "deprecated", "6 significant digits",
                  "/schema/swagger", "/schema/redoc", "GET …/next` answers `404"):  # fmt: skip
        assert words in api, words
