"""The route table's vocabulary, and the gateway every API request passes through.

Each operation is declared once (:class:`Operation`: method, path, scopes, query and body
models, the answers it may give). The router and ``openapi.json`` are both built from the
declarations, and :class:`Gateway` renders a handler's reply through the schema declared
for its status, so the document cannot promise a shape the server does not send.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeVar

from aiohttp import hdrs, web
from pydantic import BaseModel, TypeAdapter, ValidationError

from hotline.web.access import AccessTrail
from hotline.web.api.auth import Authenticator
from hotline.web.api.errors import (
    BAD_JSON,
    BODY_TOO_LARGE,
    FORBIDDEN,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
    ErrorBody,
    from_validation,
)
from hotline.web.api.schemas import Id, IdempotencyKey
from hotline.web.tokens import ApiToken, Scope

PREFIX = "/api/v1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
JSON = "application/json"
M = TypeVar("M", bound=BaseModel)
STANDARD_ERRORS = {
    400: "Malformed JSON (`bad_json`).",
    401: "No token, or an unknown or revoked one (`unauthenticated`).",
    403: "The token's scopes do not reach this (`forbidden`).",
    404: "Unknown id, or no such path (`not_found`).",
    413: "The body is larger than the server's cap (`body_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    422: "Well-formed but invalid: `details[].loc` is the path to the field at fault"
    " (`validation_failed`).",
    429: "Too many requests from this token or address; retry after `Retry-After` seconds"
    " (`rate_limited`).",
    503: "The history store is unavailable; retry after `Retry-After` seconds (`unavailable`).",
}
_PATH_PARAM = re.compile(r"{(\w+)}")
_ID = TypeAdapter(Id)
_KEY = TypeAdapter(IdempotencyKey)


@dataclass(frozen=True)
class Answer:
    """One documented response: a status, what it means, and its body's type (or None).
    A ``media_type`` other than JSON sends the reply's payload (bytes) as it is."""

    status: int
    description: str
    schema: Any = None
    media_type: str = JSON

    @property
    def adapter(self) -> TypeAdapter[Any]:
        return adapter_for(self.schema)


@lru_cache(maxsize=256)
def adapter_for(schema: Any) -> TypeAdapter[Any]:
    """Building a TypeAdapter costs milliseconds; the types are few and fixed."""
    return TypeAdapter(schema)


def refusal(status: int, description: str) -> Answer:
    """A documented error answer (the body is always ``ErrorBody``)."""
    return Answer(status, description, ErrorBody)


@dataclass(frozen=True)
class Reply:
    status: int
    payload: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The customers whose data this reply carries: each read is put in the access log
    #: (``hotline.web.access``) with the token that read it.
    customers: tuple[int | None, ...] = ()


@dataclass(frozen=True)
class Call:
    """One request, authenticated and parsed: what a handler gets."""

    request: web.Request
    token: ApiToken | None
    ids: Mapping[str, int]
    query: BaseModel | None
    body: BaseModel | None
    idempotency_key: str | None

    @property
    def caller(self) -> ApiToken:
        if self.token is None:
            raise RuntimeError("a public operation has no caller")
        return self.token

    def body_as(self, model: type[M]) -> M:
        if not isinstance(self.body, model):
            raise TypeError(f"expected a {model.__name__} body")
        return self.body

    def query_as(self, model: type[M]) -> M:
        if not isinstance(self.query, model):
            raise TypeError(f"expected {model.__name__} parameters")
        return self.query


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Operation:
    method: str
    #: Under ``PREFIX``; path parameters are ids (``{customer_id}``).
    path: str
    name: str
    summary: str
    handler: Handler
    answers: tuple[Answer, ...]
    #: Any one of these admits the caller (finer checks, e.g. per channel, are the handler's).
    scopes: tuple[Scope, ...] = ()
    public: bool = False
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    idempotency: Literal["required", "optional"] | None = None
    description: str = ""
    #: A request body that must validate against ``body`` (checked by the tests).
    example: Mapping[str, Any] | None = None
    #: This operation's cap on the request body, if not the API's.
    max_body_bytes: int | None = None

    @property
    def full_path(self) -> str:
        return PREFIX + self.path

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def documented_answers(self) -> tuple[Answer, ...]:
        """Its own answers plus the error answers every operation like it can give."""
        statuses = {404, 422, 429}
        if not self.public:
            statuses |= {401, 403, 503}
        if self.body is not None:
            statuses |= {400, 413, 415}
        own = {a.status for a in self.answers}
        common = (
            Answer(status, STANDARD_ERRORS[status], ErrorBody) for status in sorted(statuses - own)
        )
        return tuple(sorted((*self.answers, *common), key=lambda a: a.status))

    def answer(self, status: int) -> Answer:
        for answer in self.answers:
            if answer.status == status:
                return answer
        raise RuntimeError(f"{self.name} answered {status}, which it does not declare")


class Gateway:
    """Authenticate, check scopes, parse, call the handler, render the reply."""

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        max_body_bytes: int,
        access: AccessTrail | None = None,
    ) -> None:
        self._auth = authenticator
        self.max_body_bytes = max_body_bytes
        self._access = access

    def bind(self, op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            token = None if op.public else await self._auth.authenticate(request)
            if token is not None and op.scopes and not any(token.allows(s) for s in op.scopes):
                raise forbidden(token, op.scopes)
            ids = {name: _path_id(request, name) for name in op.path_params}
            query = None if op.query is None else parse_query(op.query, request)
            key = _idempotency_key(request, op.idempotency)
            body = None
            if op.body is not None:
                raw = await read_json(request, op.max_body_bytes or self.max_body_bytes)
                try:
                    body = op.body.model_validate(raw)
                except ValidationError as error:
                    raise from_validation(error, "body") from None
            reply = await op.handler(Call(request, token, ids, query, body, key))
            if reply.customers and token is not None and self._access is not None:
                self._access.record(
                    actor=token.name,
                    actor_kind="token",
                    role=" ".join(sorted(s.value for s in token.scopes)),
                    customer_ids=reply.customers,
                    what=op.name,
                    route=op.full_path,
                    address=request.remote,
                )
            return render(op, reply)

        return handle


def render(op: Operation, reply: Reply) -> web.Response:
    answer = op.answer(reply.status)
    if answer.schema is None:
        return web.Response(status=reply.status, headers=reply.headers)
    if answer.media_type != JSON:
        if not isinstance(reply.payload, bytes):
            raise TypeError(f"{op.name} answers {answer.media_type}: its payload must be bytes")
        return web.Response(
            status=reply.status,
            body=reply.payload,
            content_type=answer.media_type,
            headers=reply.headers,
        )
    return web.Response(
        status=reply.status,
        body=answer.adapter.dump_json(reply.payload, warnings="error"),
        content_type=JSON,
        headers=reply.headers,
    )


def forbidden(token: ApiToken, needed: tuple[Scope, ...], what: str = "this") -> ApiError:
    needs = " or ".join(s.value for s in needed)
    has = ", ".join(sorted(s.value for s in token.scopes))
    return ApiError(
        403,
        FORBIDDEN,
        f"token {token.name!r} may not do {what}: it needs {needs} (it has {has})",
        details=[{"message": "missing scope", "needed": [s.value for s in needed]}],
    )


def _path_id(request: web.Request, name: str) -> int:
    try:
        return _ID.validate_python(request.match_info[name])
    except ValidationError as error:
        raise from_validation(error, "path", name) from None


def _idempotency_key(request: web.Request, mode: str | None) -> str | None:
    raw = request.headers.get(IDEMPOTENCY_HEADER)
    if mode is None:
        return None
    where = ["header", IDEMPOTENCY_HEADER]
    if raw is None:
        if mode == "optional":
            return None
        message = f"the {IDEMPOTENCY_HEADER} header is required: a retry with it never duplicates"
        raise ApiError(
            422,
            "validation_failed",
            message,
            details=[{"loc": where, "message": "required", "type": "missing"}],
        )
    try:
        return _KEY.validate_python(raw)
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        detail = {"loc": where, "message": problem["msg"], "type": problem["type"]}
        raise ApiError(
            422, "validation_failed", f"{IDEMPOTENCY_HEADER}: {problem['msg']}", details=[detail]
        ) from None


def parse_query(model: type[M], request: web.Request) -> M:
    """Query parameters into ``model``: list fields take every repeat (``?channel=a&channel=b``);
    a repeated single-valued parameter is an error, not a silent pick."""
    raw: dict[str, Any] = {}
    for name in dict.fromkeys(request.query.keys()):
        values = request.query.getall(name)
        info = model.model_fields.get(name)
        is_list = info is not None and typing.get_origin(info.annotation) is list
        raw[name] = values if is_list or len(values) > 1 else values[0]
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise from_validation(error, "query") from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: web.Request, cap: int) -> Any:
    """The body as JSON, refusing more than ``cap`` bytes before reading them all."""
    kind = request.content_type  # application/octet-stream when the header is missing
    if hdrs.CONTENT_TYPE in request.headers and kind != JSON and not kind.endswith("+json"):
        raise ApiError(415, UNSUPPORTED_MEDIA_TYPE, f"send Content-Type: {JSON} (not {kind})")
    too_large = ApiError(413, BODY_TOO_LARGE, f"request body larger than {cap} bytes")
    if request.content_length is not None and request.content_length > cap:
        raise too_large
    data = bytearray()
    while chunk := await request.content.read(65536):
        data += chunk
        if len(data) > cap:
            raise too_large
    if not data.strip():
        raise ApiError(400, BAD_JSON, "empty body: send a JSON object")
    try:
        return json.loads(bytes(data), parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, BAD_JSON, f"malformed JSON: {error}") from None
