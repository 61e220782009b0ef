"""``openapi.json`` (OpenAPI 3.1), generated from the route table and the pydantic models.

Nothing here is written by hand per route: paths, methods, parameters, bodies, answers and
scopes all come from the :class:`~hotline.web.api.endpoints.Operation` declarations the
router is built from, and schemas from the models requests are validated with and replies
serialised through. OpenAPI 3.1 speaks JSON Schema 2020-12, which pydantic emits as is.
"""

from __future__ import annotations

import typing
from collections.abc import Hashable, Sequence
from typing import Any, Literal

from pydantic import TypeAdapter

from hotline.web.api.endpoints import IDEMPOTENCY_HEADER, JSON, Operation, adapter_for
from hotline.web.api.schemas import MAX_ID
from hotline.web.tokens import Scope

REF = "#/components/schemas/{model}"
SECURITY = "bearer"
KEY = "^[!-~]+$"  # printable ASCII, no spaces (the header model says the same)

_HEADERS = {
    201: {"Location": "Where the new resource can be read."},
    202: {"Location": "Where the interaction can be read once the spool is replayed."},
    401: {"WWW-Authenticate": 'The challenge: `Bearer realm="hotline"`.'},
    503: {"Retry-After": "Seconds to wait before retrying."},
}


def build_document(operations: Sequence[Operation], *, title: str, version: str) -> dict[str, Any]:
    schemas, defs = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.full_path, {})[op.method.lower()] = _operation(op, schemas, defs)
    scopes = "\n".join(f"- `{s.value}`" for s in Scope)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The cross-channel customer history of hotline, for chat, e-mail "
            'and other modules. Errors are always `{"error": {"code", "message", '
            '"details"}}`.\n\nToken scopes (`history:write` covers every '
            f"`history:write:<channel>`):\n{scopes}",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                SECURITY: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`hotline token create NAME --scope SCOPE...` prints one.",
                }
            },
        },
    }


Mode = Literal["validation", "serialization"]
Schemas = dict[Hashable, dict[str, Any]]


def _schemas(operations: Sequence[Operation]) -> tuple[Schemas, dict[str, Any]]:
    """Every model's schema, shared definitions under ``components/schemas``."""
    inputs: list[tuple[Hashable, Mode, TypeAdapter[Any]]] = []
    for op in operations:
        if op.body is not None:
            inputs.append(((op.name, "body"), "validation", adapter_for(op.body)))
        if op.query is not None:
            inputs.append(((op.name, "query"), "validation", adapter_for(op.query)))
        for answer in op.documented_answers:
            if answer.schema is not None:
                inputs.append(((op.name, answer.status), "serialization", answer.adapter))
    keyed, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
    schemas = {key: schema for (key, _mode), schema in keyed.items()}
    return schemas, dict(defs.get("$defs", {}))


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        resolved: dict[str, Any] = defs[ref.rsplit("/", 1)[1]]
        return resolved
    return schema


def _operation(op: Operation, schemas: Schemas, defs: dict[str, Any]) -> dict[str, Any]:
    described: dict[str, Any] = {"operationId": op.name, "summary": op.summary}
    if op.description:
        described["description"] = op.description
    if op.public:
        described["security"] = []
    else:
        described["security"] = [{SECURITY: [s.value for s in op.scopes]}]
        needs = " or ".join(f"`{s.value}`" for s in op.scopes)
        described["description"] = (op.description + f"\n\nScopes: {needs}.").strip()
    parameters = _parameters(op, schemas, defs)
    if parameters:
        described["parameters"] = parameters
    if op.body is not None:
        media: dict[str, Any] = {"schema": schemas[(op.name, "body")]}
        if op.example is not None:
            media["example"] = dict(op.example)
        described["requestBody"] = {"required": True, "content": {JSON: media}}
    described["responses"] = {
        str(answer.status): _response(
            answer.status,
            answer.description,
            schemas.get((op.name, answer.status)),
            answer.media_type,
        )
        for answer in op.documented_answers
    }
    return described


def _response(
    status: int, description: str, schema: dict[str, Any] | None, media_type: str = JSON
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media_type: {"schema": schema}}
    headers = _HEADERS.get(status)
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


def _parameters(op: Operation, schemas: Schemas, defs: dict[str, Any]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in op.path_params
    ]
    if op.idempotency is not None:
        parameters.append(
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": op.idempotency == "required",
                "description": "Makes the write safe to retry: the same key with the same "
                "body returns the first result; with another body, 409.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128,
                    "pattern": "^[!-~]+$",
                },
            }
        )
    if op.query is not None:
        model = _resolve(schemas[(op.name, "query")], defs)
        required = set(model.get("required", ()))
        for name, schema in model.get("properties", {}).items():
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _not_null(schema),
            }
            if _is_list(op, name):
                parameter["style"], parameter["explode"] = "form", True
            parameters.append(parameter)
    return parameters


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter is one left out: a query string cannot say null."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    if len(kept) == 1:
        return {**rest, **kept[0]}
    return {**rest, "anyOf": kept}


def _is_list(op: Operation, name: str) -> bool:
    assert op.query is not None
    info = op.query.model_fields.get(name)
    return info is not None and typing.get_origin(info.annotation) is list
