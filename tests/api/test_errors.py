"""The one error shape, with a request id, for expected and unexpected errors alike."""

import logging

from litestar import get


@get("/v1/test/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("planted failure")


def test_an_unexpected_error_logs_its_traceback_and_answers_the_error_shape(client, caplog):
    client.app.register(boom)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = client.get("/v1/test/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"error", "detail", "extra", "request_id"}
    assert body["request_id"] == "req-42" == response.headers["x-request-id"]
    record = next(r for r in caplog.records if "req-42" in r.getMessage())
    assert record.exc_info is not None
    assert "planted failure" in str(record.exc_info[1])


def test_expected_errors_carry_a_fresh_request_id(client):
    first = client.get("/v1/quizzes/nope", headers={"X-Request-ID": "bad id with spaces"})
    second = client.get("/v1/admin/exposure/items")
    assert first.status_code in (401, 404)
    assert second.status_code == 401
    ids = [first.json()["request_id"], second.json()["request_id"]]
    assert len(set(ids)) == 2
    assert all(len(i) == 32 for i in ids)


def test_unknown_docs_paths_answer_the_json_404_and_the_docs_still_render(client):
    for path in ("/schema/elements", "/schema/rapidoc", "/schema/nope/deeper"):
        response = client.get(path, headers={"X-Request-ID": "docs-1"})
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json"), path
        assert response.json()["error"] == "NotFoundError"
        assert response.json()["request_id"] == "docs-1"
    for path in ("/schema", "/schema/redoc", "/schema/swagger", "/schema/openapi.json"):
        assert client.get(path).status_code == 200, path
