"""Property-based run over the served OpenAPI schema: no 5xx, responses match the schema.

Every check schemathesis has runs, response-schema, status-code, content-type, header and
``Allow`` conformance, ignored auth and negative-data rejection included, with one exclusion:
``positive_data_acceptance``. A schema-valid body may still break a rule JSON Schema cannot
state (two options labelled A, no correct option or two, a topic weight for an unknown topic,
``test_len`` longer than the exam's pool), and the API rightly answers 400 naming the rule.

The response schemas are typed (``api/responses.py``), so response-schema conformance checks
every field of every success body, and status-code conformance checks that a route answers
only the error statuses its schema lists.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from qbank.services.access.auth import ROLES, Principal, issue_token

EXCLUDED = [positive_data_acceptance]


@pytest.fixture
def all_roles(app_settings):
    token = issue_token(app_settings.secret, Principal("fuzzer", "acme", ROLES))
    return {"Authorization": f"Bearer {token}"}


def test_every_response_is_typed_and_errors_are_the_error_shape(client):
    schema = client.get("/schema/openapi.json").json()
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if status.startswith("2") and "application/json" in content:
                    body = content["application/json"]["schema"]
                    assert "$ref" in body, (method, path, body)  # a named, typed Struct
                if not status.startswith("2"):
                    assert content["application/json"]["schema"] == error_ref, (method, path)
    assert "503" not in schema["paths"]["/health"]["get"]["responses"]
    assert sorted(schema["paths"]["/v1/exams"]["get"]["responses"]) == ["200", "400", "401", "403"]
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Out") or name.endswith("Page"):
            assert component.get("properties"), name  # never a bare {"type": "object"}


def test_no_server_errors_and_responses_match_the_schema(app_settings, all_roles):
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(app_settings))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 26

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def check(case):
            case.call_and_validate(headers=all_roles, excluded_checks=EXCLUDED)

        check()
