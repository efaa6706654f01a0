"""Property-based run over the served OpenAPI schema: no 5xx, responses match the schema.

Excluded checks, on purpose: ``positive_data_acceptance`` (schema-valid bodies may still break
business rules, e.g. two options labelled A, and get a 400), ``negative_data_rejection``
(Litestar converts path, query and body values laxly, e.g. 0 to false) and
``allow_header_conformance`` (Litestar's automatic OPTIONS lists one handler's methods).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)

from api.app import create_app
from qbank.services.access.auth import ROLES, Principal, issue_token

EXCLUDED = [allow_header_conformance, negative_data_rejection, positive_data_acceptance]


@pytest.fixture
def all_roles(app_settings):
    token = issue_token(app_settings.secret, Principal("fuzzer", "acme", ROLES))
    return {"Authorization": f"Bearer {token}"}


def test_no_server_errors_and_responses_match_the_schema(app_settings, all_roles):
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(app_settings))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def check(case):
            case.call_and_validate(headers=all_roles, excluded_checks=EXCLUDED)

        check()
