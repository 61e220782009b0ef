"""The API's one error shape, and what each refusal of the store becomes on the wire.

Every 4xx/5xx under ``/api/v1/`` is ``{"error": {"code", "message", "details"}}``: ``code``
is stable (clients branch on it), ``message`` says why in words, ``details`` lists the
fields at fault (``loc`` is the path into the request: ``["body", "identity", "value"]``,
``["query", "limit"]``). Malformed JSON is 400; well-formed JSON that breaks the schema is
422, so a client can tell "my encoder is broken" from "my data is wrong".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import exc

from history.errors import (
    AttachmentMissing,
    ConversationConflict,
    HistoryError,
    IdentityConflict,
    InvalidCursor,
    InvalidIdentity,
    InvalidMerge,
    MessageTooLarge,
    NotAConversation,
    TooLarge,
    UnknownAttachment,
    UnknownCustomer,
    UnknownInteraction,
    UnknownMessage,
)
from history.masking import mask_text
from history.writer import is_outage

log = logging.getLogger(__name__)

BAD_JSON = "bad_json"
BAD_REQUEST = "bad_request"
UNAUTHENTICATED = "unauthenticated"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
IDENTITY_CONFLICT = "identity_conflict"
IDEMPOTENCY_CONFLICT = "idempotency_conflict"
INVALID_MERGE = "invalid_merge"
CONVERSATION_CONFLICT = "conversation_conflict"
BODY_TOO_LARGE = "body_too_large"
MESSAGE_TOO_LARGE = "message_too_large"
ATTACHMENT_TOO_LARGE = "attachment_too_large"
ATTACHMENT_MISSING = "attachment_missing"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
VALIDATION_FAILED = "validation_failed"
UNAVAILABLE = "unavailable"
INTERNAL = "internal_error"

#: PostgreSQL's "data exception" class: a value the column cannot hold (a NUL in text, an
#: integer out of range) is the request's fault, not the server's.
_DATA_EXCEPTION_CLASS = "22"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    loc: list[str | int] | None = None
    message: str
    type: str | None = None


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    error: ErrorInfo


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = [dict(d) for d in details]
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = ErrorBody(
            error=ErrorInfo(
                code=self.code,
                message=self.message,
                details=[ErrorDetail.model_validate(d) for d in self.details],
            )
        )
        return web.Response(
            status=self.status,
            body=body.model_dump_json().encode(),
            content_type="application/json",
            headers=self.headers,
        )


def invalid(where: Sequence[str | int], message: str, kind: str = "value_error") -> ApiError:
    return ApiError(
        422,
        VALIDATION_FAILED,
        message,
        details=[{"loc": list(where), "message": message, "type": kind}],
    )


def from_validation(error: ValidationError, *prefix: str | int) -> ApiError:
    """Pydantic's errors with their location in the request; the offending values are not
    echoed (they may be someone's phone number, and responses end up in clients' logs)."""
    details = [
        {"loc": [*prefix, *e["loc"]], "message": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_input=False)
    ]
    first = details[0] if details else {"loc": list(prefix), "message": "invalid"}
    where = ".".join(str(p) for p in first["loc"])
    message = f"{where}: {first['message']}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return ApiError(422, VALIDATION_FAILED, message, details=details)


def unavailable(retry_after_s: int, what: str = "the history store is unavailable") -> ApiError:
    return ApiError(
        503,
        UNAVAILABLE,
        f"{what}; retry later",
        headers={"Retry-After": str(retry_after_s)},
    )


def translate(error: Exception, retry_after_s: int) -> ApiError | None:
    """The API error for a refusal or an outage of the store; None for anything else."""
    if isinstance(error, UnknownCustomer):
        return ApiError(
            404,
            NOT_FOUND,
            str(error),
            details=[{"message": str(error), "customer_id": error.customer_id}],
        )
    if isinstance(error, (UnknownInteraction, NotAConversation, UnknownMessage, UnknownAttachment)):
        return ApiError(404, NOT_FOUND, str(error))
    if isinstance(error, TooLarge):
        code = MESSAGE_TOO_LARGE if isinstance(error, MessageTooLarge) else ATTACHMENT_TOO_LARGE
        detail = {"message": str(error), "size": error.size, "limit": error.limit}
        return ApiError(413, code, str(error), details=[{**detail, "unit": error.unit}])
    if isinstance(error, ConversationConflict):
        return ApiError(409, CONVERSATION_CONFLICT, str(error))
    if isinstance(error, AttachmentMissing):
        log.error("attachment store fault: %s", error)
        return ApiError(500, ATTACHMENT_MISSING, f"{error} (reported to the server's log)")
    if isinstance(error, IdentityConflict):
        detail = {"message": str(error), "kind": error.kind, "holder_id": error.customer_id}
        return ApiError(409, IDENTITY_CONFLICT, str(error), details=[detail])
    if isinstance(error, InvalidMerge):
        return ApiError(409, INVALID_MERGE, str(error))
    if isinstance(error, InvalidCursor):
        return invalid(["query", "cursor"], str(error))
    if isinstance(error, InvalidIdentity):
        detail = {"message": error.reason, "type": "invalid_identity", "kind": error.kind}
        return ApiError(422, VALIDATION_FAILED, str(error), details=[detail])
    if isinstance(error, HistoryError):
        return ApiError(422, VALIDATION_FAILED, str(error))
    if isinstance(error, (OSError, exc.SQLAlchemyError)) and is_outage(error):
        return unavailable(retry_after_s)
    if isinstance(error, exc.DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if isinstance(state, str) and state.startswith(_DATA_EXCEPTION_CLASS):
            reason = mask_text(str(error.orig).splitlines()[0])
            return ApiError(422, VALIDATION_FAILED, f"a value cannot be stored: {reason}")
    if isinstance(error, OverflowError):
        return ApiError(422, VALIDATION_FAILED, "a number is too large to store")
    return None


def middleware(retry_after_s: int) -> Any:
    """Every failure under the API prefix becomes the JSON error shape (aiohttp's own 404
    and 405 too); an unexpected exception is logged once, and the client gets a bare 500."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error.response()
        except web.HTTPException as http:
            if http.status < 400:
                raise
            return _from_http(http).response()
        except ValidationError as error:  # a model built from already validated input
            return from_validation(error, "body").response()
        except Exception as error:
            translated = translate(error, retry_after_s)
            if translated is not None:
                return translated.response()
            log.exception("API %s %s failed", request.method, request.path)
            return ApiError(500, INTERNAL, "internal error (logged on the server)").response()

    return errors


def _from_http(http: web.HTTPException) -> ApiError:
    codes = {
        404: (NOT_FOUND, "no such resource under /api/v1/ (see /api/v1/openapi.json)"),
        405: (
            METHOD_NOT_ALLOWED,
            f"method not allowed here; allowed: {http.headers.get('Allow', '')}",
        ),
        413: (BODY_TOO_LARGE, "request body too large"),
    }
    code, message = codes.get(http.status, (BAD_REQUEST, http.reason))
    headers = {k: v for k, v in http.headers.items() if k in ("Allow",)}
    return ApiError(http.status, code, message, headers=headers)
