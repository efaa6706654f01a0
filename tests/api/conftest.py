import pytest
from litestar.testing import TestClient

from api.app import create_app
from qbank.services.access.auth import create_user
from qbank.settings import Settings

PASSWORD = "correct horse battery"
USERS = {
    "admin": ("admin",), "author": ("author", "publisher"), "writer": ("author",),
    "publisher": ("publisher",), "student": ("student",), "student2": ("student",),
}  # fmt: skip  # fmt: skip


@pytest.fixture
def app_settings(database_url, monkeypatch, request):
    from tests.backends import rq_queue

    redis_url = None
    if database_url.startswith("postgresql"):
        from tests.backends import redis_url_or_skip

        redis_url = redis_url_or_skip()
    with rq_queue(redis_url) as queue:  # its rq:* keys are deleted afterwards
        # Jobs build their settings from the environment, as a worker would.
        monkeypatch.setenv("QBANK_DATABASE_URL", database_url)
        monkeypatch.setenv("QBANK_RQ_QUEUE", queue)
        # env="prod", as a server starts with QBANK_ENV unset; tests needing dev say so.
        yield Settings(database_url=database_url, redis_url=redis_url, tenant_id="acme",
                       secret="test-secret-0123456789-0123456789-abcdef", rq_queue=queue,
                       state_prefix=queue, env="prod")  # fmt: skip


@pytest.fixture
def client(app_settings):
    app = create_app(app_settings)
    runtime = app.state.runtime
    for name, roles in USERS.items():
        create_user(runtime.sessions, "acme", name, PASSWORD, roles)
    create_user(runtime.sessions, "other", "outsider", PASSWORD, ("student", "admin"))
    with TestClient(app) as test_client:
        yield test_client
    state = runtime.state
    if hasattr(state, "clear"):
        state.clear()


def token(client, username, tenant_id="acme"):
    response = client.post("/v1/auth/login", json={"username": username, "password": PASSWORD,
                                                    "tenant_id": tenant_id})  # fmt: skip
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def question_body(i, topic="Cardiology", **changes):
    body = {"external_ref": f"Q-{i}", "topic_name": topic, "stem_md": f"Patient {i} has chest pain",
            "lead_in": "Most likely diagnosis?", "rationale_md": f"Rationale {i}",
            "difficulty_label": "medium", "exam_code": "EX",
            "options": [{"label": "A", "text_md": "Angina", "is_correct": True},
                        {"label": "B", "text_md": "Reflux"}, {"label": "C", "text_md": "Asthma"},
                        {"label": "D", "text_md": "Gout"}]}  # fmt: skip
    body.update(changes)
    return body
