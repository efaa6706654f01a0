"""Fail-closed tokens, throttled logins and the authoring roles, on both runtimes."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from api.app import create_app
from qbank.errors import ConfigError
from qbank.settings import KNOWN_SECRETS
from tests.api.conftest import PASSWORD, question_body, token


def _forged(secret, roles=("admin",), tenant="acme"):
    now = datetime.now(UTC)
    claims = {"sub": "mallory", "tenant": tenant, "roles": list(roles), "iat": now,
              "exp": now + timedelta(hours=1)}  # fmt: skip
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def test_a_token_signed_with_a_published_default_secret_is_refused(client, app_settings):
    for secret in KNOWN_SECRETS:
        response = client.get("/v1/author/questions", headers=_forged(secret))
        assert response.status_code == 401, response.text
    # the same forgery with the server's own key gets in: the refusal is about the key
    assert (
        client.get("/v1/author/questions", headers=_forged(app_settings.secret)).status_code == 200
    )


def test_the_app_does_not_start_in_production_without_a_usable_secret(app_settings):
    for secret in ("", "short", "x" * 31, *KNOWN_SECRETS):
        with pytest.raises(ConfigError, match="QBANK_SECRET"):
            create_app(replace(app_settings, secret=secret))
    for secret in KNOWN_SECRETS:  # not in dev either: whoever read the source could sign
        with pytest.raises(ConfigError, match="QBANK_SECRET"):
            create_app(replace(app_settings, env="dev", secret=secret))


def test_tokens_never_verify_or_sign_with_a_published_key():
    from qbank.errors import PermissionDeniedError
    from qbank.services.access.auth import Principal, decode_token, issue_token

    for secret in KNOWN_SECRETS:
        forged = _forged(secret)["Authorization"].split()[1]
        with pytest.raises(PermissionDeniedError):
            decode_token(secret, forged)
        with pytest.raises(PermissionDeniedError):
            issue_token(secret, Principal("u", "t", ("admin",)))


def test_a_dev_app_without_a_secret_signs_with_a_random_key(app_settings):
    from litestar.testing import TestClient

    dev = replace(app_settings, env="dev", secret="")
    first, second = create_app(dev), create_app(dev)
    assert first.state.runtime.settings.secret != second.state.runtime.settings.secret
    with TestClient(first) as one, TestClient(second) as two:
        login = one.post("/v1/auth/mock-login", json={"user_id": "u", "roles": ["admin"]})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert one.get("/v1/author/questions", headers=headers).status_code == 200
        assert two.get("/v1/author/questions", headers=headers).status_code == 401


def test_an_author_deletes_own_drafts_only_and_the_live_bank_needs_a_publisher(client):
    writer, publisher, admin = token(client, "writer"), token(client, "publisher"), token(
        client, "admin")  # fmt: skip
    own = client.post("/v1/author/questions", headers=writer, json=question_body(1)).json()
    theirs = client.post("/v1/author/questions", headers=admin,
                         json=question_body(2, publish=False)).json()  # fmt: skip
    live = client.post("/v1/author/questions", headers=admin, json=question_body(3)).json()
    path = "/v1/author/questions/{}".format
    refused = client.delete(path(live["question_id"]), headers=writer)
    assert refused.status_code == 403, refused.text
    assert "publisher" in refused.json()["detail"]
    assert client.delete(path(theirs["question_id"]), headers=writer).status_code == 403
    # the refused deletes changed nothing: the live item is still served in its exam
    listed = client.get("/v1/author/questions", headers=admin, params={"exam_code": "EX"}).json()
    assert [item["question_id"] for item in listed["items"]] == [live["question_id"]]
    assert client.delete(path(own["question_id"]), headers=writer).status_code == 200
    # published, then taken out of every exam: a draft again, still the writer's own
    client.post(f"/v1/author/questions/{own['question_id']}/versions", headers=writer,
                json=question_body(1))  # fmt: skip
    second = client.post("/v1/author/questions", headers=writer, json=question_body(4)).json()
    client.post(f"/v1/author/questions/{second['question_id']}/versions/1/publish",
                headers=publisher, json={"exam_code": "EX"})  # fmt: skip
    assert client.delete(path(second["question_id"]), headers=writer).status_code == 403
    client.post(f"/v1/author/questions/{second['question_id']}/versions/1/retire",
                headers=publisher)  # fmt: skip
    assert client.delete(path(second["question_id"]), headers=writer).status_code == 200
    assert client.delete(path(live["question_id"]), headers=publisher).status_code == 200
    assert client.delete(path(theirs["question_id"]), headers=admin).status_code == 200
    assert client.get(path(live["question_id"]), headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/admin/exposure/set", {"question_id": 1, "version": 1, "sh_p": "0.5"}, "sh_p"),
        ("/v1/admin/exposure/calibrate_sh/start", {"dry_run": 0}, "dry_run"),
        ("/v1/admin/calibrate_irt/start", {"dry_run": 1}, "dry_run"),
        ("/v1/admin/flags", {"key": "f", "enabled": 0}, "enabled"),
        ("/v1/quizzes", {"adaptive": "true"}, "adaptive"),
        ("/v1/auth/login", {"username": "admin", "password": 12345678}, "password"),
    ],
)
def test_a_json_value_of_the_wrong_type_is_a_400(client, path, body, field):
    admin = token(client, "admin") if "login" not in path else {}
    if "quizzes" in path:
        admin = token(client, "student")
    response = client.post(path, headers=admin, json=body)
    assert response.status_code == 400, response.text
    assert f"$.{field}" in str(response.json()["extra"]), response.json()


@pytest.mark.parametrize(
    ("change", "message"),
    [({"a": True}, "a must be a JSON number"), ({"a": "1.2"}, "a must be a JSON number"),
     ({"external_ref": {"x": 1}}, "external_ref must be a string"),
     ({"stem_md": 5}, "stem_md must be a string"), ({"publish": "false"}, "publish must be"),
     ({"options": [{"label": "A", "text_md": "x", "is_correct": 1},
                   {"label": "B", "text_md": "y"}]}, "is_correct must be")],
)  # fmt: skip
def test_the_import_refuses_wrong_json_types(client, change, message):
    admin = token(client, "admin")
    response = client.post("/v1/author/questions/import", headers=admin,
                           json=[question_body(1), question_body(2, **change)])  # fmt: skip
    assert response.status_code == 400, response.text
    assert "question 2" in response.json()["detail"]
    assert message in response.json()["detail"]
    listed = client.get("/v1/author/questions", headers=admin).json()
    assert listed["total"] == 0  # all or nothing
    good = client.post("/v1/author/questions/import", headers=admin,
                       json=[question_body(1, a=1.2, b=0, c=0.2, sh_p=1)])  # fmt: skip
    assert good.status_code == 201, good.text


def test_percent_and_underscore_in_the_search_are_literal(client):
    admin = token(client, "admin")
    for i, stem in enumerate(["Dose 50% of max", "Dose 500 of max", "snake_case name",
                              "snakeXcase name", "back\\slash"]):  # fmt: skip
        client.post("/v1/author/questions", headers=admin,
                    json=question_body(i, stem_md=stem, external_ref=f"R{i}"))  # fmt: skip

    def found(q):
        items = client.get("/v1/author/questions", headers=admin, params={"q": q}).json()["items"]
        return sorted(item["external_ref"] for item in items)

    assert found("50%") == ["R0"]
    assert found("%") == ["R0"]
    assert found("e_c") == ["R2"]
    assert found("_") == ["R2"]
    assert found("k\\s") == ["R4"]
    assert found("dose") == ["R0", "R1"]  # still a case-insensitive substring search


def _login(client, username, password):
    return client.post("/v1/auth/login", json={"username": username, "password": password,
                                               "tenant_id": "acme"})  # fmt: skip


def test_failed_logins_are_throttled_with_429_and_retry_after(client, slow_login_backoff):
    assert [_login(client, "student", "wrong").status_code for _ in range(5)] == [401] * 5
    throttled = _login(client, "student", PASSWORD)  # the right password waits too
    assert throttled.status_code == 429, throttled.text
    assert 50 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.json()["error"] == "TooManyRequestsError"
    assert "try again" in throttled.json()["detail"]
    assert _login(client, "student2", PASSWORD).status_code == 200  # another account


def test_a_successful_login_resets_the_count(client, slow_login_backoff):
    assert [_login(client, "student", "wrong").status_code for _ in range(4)] == [401] * 4
    assert _login(client, "student", PASSWORD).status_code == 200
    assert [_login(client, "student", "wrong").status_code for _ in range(5)] == [401] * 5
    assert _login(client, "student", "wrong").status_code == 429
