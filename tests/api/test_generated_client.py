"""A Python client generated from the served OpenAPI schema drives a whole quiz.

openapi-python-client turns ``/schema/openapi.json`` into typed models and one module per
operation (named by the handler: ``create_quiz``, ``next_item``, ``answer``…). If a route's
declared schema drifts from what it answers, the generated client's parsing fails here; if
the schema uses something the generator cannot express, its warnings fail the test.
"""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.app import create_app
from qbank.settings import Settings
from tests.api.conftest import PASSWORD, question_body

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
CONFIG = "package_name_override: qbank_client\npost_hooks: []\n"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated ``qbank_client`` package, imported."""
    root = tmp_path_factory.mktemp("client")
    settings = Settings(database_url=f"sqlite:///{root}/schema.db", tenant_id="acme",
                        secret="test-secret-0123456789-0123456789-abcdef")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        (root / "openapi.json").write_bytes(client.get("/schema/openapi.json").content)
    (root / "config.yaml").write_text(CONFIG)
    done = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(root / "openapi.json"), "--config",
         str(root / "config.yaml"), "--meta", "none", "--output-path", str(root / "qbank_client")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower(), output  # every schema construct was understood
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("qbank_client")
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.startswith("qbank_client")]:
            del sys.modules[name]


def _module(name):
    return importlib.import_module(name)


def test_a_generated_client_drives_a_quiz(client, generated):
    api = generated.Client(base_url=str(client.base_url), raise_on_unexpected_status=True)
    api.set_httpx_client(client)  # the in-process app, through the generated code
    models = _module("qbank_client.models")
    login = _module("qbank_client.api.auth.login")
    create_question = _module("qbank_client.api.authoring.create_question")
    create_quiz = _module("qbank_client.api.quizzes.create_quiz")
    next_item = _module("qbank_client.api.quizzes.next_item")
    answer = _module("qbank_client.api.quizzes.answer")
    get_quiz = _module("qbank_client.api.quizzes.get_quiz")

    def log_in(username):
        token = login.sync(client=api, body=models.LoginIn(username=username, password=PASSWORD))
        assert isinstance(token, models.LoginOut), token
        client.headers["Authorization"] = f"Bearer {token.access_token}"

    log_in("author")
    for i in range(3):
        body = models.QuestionIn.from_dict(question_body(i))
        created = create_question.sync(client=api, body=body)
        assert isinstance(created, models.QuestionCreatedOut), created
    log_in("student")
    filters = models.QuizFiltersIn(exam_code="EX", num_questions=2,
                                   mode=models.QuizFiltersInMode.TUTOR)  # fmt: skip
    quiz = create_quiz.sync(client=api, body=models.QuizIn(filters=filters))
    assert isinstance(quiz, models.QuizCreatedOut), quiz
    for position in (1, 2):
        served = next_item.sync(quiz.quiz_id, client=api)
        assert isinstance(served, models.ServedItemOut), served
        assert served.position == position
        assert [option.label for option in served.payload.options] == ["A", "B", "C", "D"]
        graded = answer.sync(
            quiz.quiz_id,
            client=api,
            body=models.AnswerIn(question_id=served.question_id, selected="A"),
        )
        assert isinstance(graded, models.AnswerOut), graded
        assert (graded.correct, graded.correct_option, graded.position) == (True, "A", position)
        assert graded.se < 1
        assert graded.theta > 0
    summary = get_quiz.sync(quiz.quiz_id, client=api)
    assert isinstance(summary, models.QuizSummaryOut), summary
    assert (summary.status, summary.score, summary.theta) == (
        models.QuizSummaryOutStatus.FINISHED,
        2,
        graded.theta,
    )
    over = next_item.sync(quiz.quiz_id, client=api)
    assert isinstance(over, models.ErrorBody)
    assert over.error == "NotFoundError"
