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
