"""openapi.json tells the truth: it is valid OpenAPI 3.1, lists every route the server has,
its examples are valid requests, and what the server answers matches what it documents."""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate as validate_openapi
from schemathesis.core.failures import FailureGroup

from hotline.web.api.endpoints import PREFIX

from .conftest import Served

ADMIN = ("history:read", "history:write", "privacy:admin", "events:read")


@pytest.fixture
async def document(sqlite_served: Served) -> dict[str, Any]:
    answer = await sqlite_served.api.get("/openapi.json")  # public: no token
    assert answer.status == 200
    body: dict[str, Any] = answer.body
    return body


def conforms(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate ``instance`` against a schema of the document (its $refs resolved)."""
    root = {"components": document["components"], **schema}
    validator = jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(instance)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"


def test_every_api_route_is_in_the_document_with_its_methods(
    sqlite_served: Served, document: dict[str, Any]
) -> None:
    served = {
        (route.resource.canonical, route.method.lower())
        for route in sqlite_served.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith(PREFIX + "/")
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert len(served) >= 20
    assert served == documented


def test_every_operation_documents_its_errors_and_scopes(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            assert {"404", "422"} <= set(answers), (method, path)
            if operation["security"]:
                scopes = operation["security"][0]["bearer"]
                assert scopes, (method, path)
                assert {"401", "403", "503"} <= set(answers), (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(answers), (method, path)
                assert "example" in operation["requestBody"]["content"]["application/json"]


async def test_every_example_is_a_valid_request_answered_as_documented(
    sqlite_served: Served, document: dict[str, Any]
) -> None:
    api = sqlite_served.api
    token = await sqlite_served.token("admin", *ADMIN)
    await api.post("/customers", token, json_body={"name": "first"})
    await api.post("/customers", token, json_body={"name": "second"})
    interaction = {"channel": "chat", "customer_id": 1}
    await api.post("/interactions", token, json_body=interaction, headers={"Idempotency-Key": "k"})
    message = {"direction": "in", "author_kind": "customer", "body": "hello"}
    await api.post("/conversations/1/messages", token, json_body=message)  # message 1
    ids = {"customer_id": 1, "interaction_id": 1, "conversation_id": 1, "message_id": 1}
    tried = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            media = operation["requestBody"]["content"]["application/json"]
            conforms(document, media["schema"], media["example"])
            answer = await api.call(
                method.upper(),
                path.removeprefix(PREFIX).format(**ids),
                token,
                json_body=media["example"],
                headers={"Idempotency-Key": f"example-{tried}"},
                params={"key": "k"} if path.endswith("/by-ref") else None,
            )
            assert answer.status in (200, 201), (method, path, answer.body)
            documented = operation["responses"][str(answer.status)]
            conforms(document, documented["content"]["application/json"]["schema"], answer.body)
            tried += 1
    assert tried >= 12


@pytest.mark.parametrize(
    ("paths", "examples"),
    [(None, 50), ("^/api/v1/conversations", 50)],
    ids=["everything", "conversations"],
)
async def test_generated_requests_get_no_server_error_and_only_documented_answers(
    sqlite_served: Served, document: dict[str, Any], paths: str | None, examples: int
) -> None:
    """Schemathesis generates valid and invalid requests from the document (a few seconds'
    worth) and checks every answer: no 5xx, a documented status, content type and schema.

    Its "schema-valid request rejected" check is left out: the store refuses some values
    that JSON Schema cannot describe (a phone number that is no number, an id in a body
    that names nobody, exactly one identity in a lookup), with a located 422.
    """
    token = await sqlite_served.token("admin", *ADMIN)
    base = sqlite_served.api.base
    schema: schemathesis.BaseSchema = schemathesis.openapi.from_dict(document)
    if paths is not None:  # the newer operations, with as many examples of their own
        schema = schema.include(path_regex=paths)
        message = {"direction": "in", "author_kind": "customer", "body": "hi"}
        opened = {
            "channel": "chat",
            "customer_id": None,
            "identity": {"kind": "chat", "value": "v"},
        }
        answer = await sqlite_served.api.post(
            "/conversations", token, json_body={**opened, "message": message}
        )
        assert answer.status == 201  # conversation 1, message 1: ids the fuzzer may hit
    strategy = schema.as_strategy() | schema.as_strategy(
        generation_mode=schemathesis.GenerationMode.NEGATIVE
    )
    failures: list[str] = []
    session = requests.Session()

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure is reproducible
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def explore(case: schemathesis.Case[Any]) -> None:
        response = case.call(
            base_url=base, session=session, headers={"Authorization": f"Bearer {token}"}
        )
        try:
            case.validate_response(
                response, excluded_checks=[schemathesis.checks.positive_data_acceptance]
            )
        except FailureGroup as found:
            failures.append(f"{case.method} {case.path}: {found.exceptions[0]}")

    try:
        async with asyncio.timeout(90):
            await asyncio.to_thread(explore)  # requests blocks; the server runs on this loop
    finally:
        session.close()
    assert failures == []
