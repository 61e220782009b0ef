"""The history store over HTTP (``/api/v1/``) for chat, e-mail and other modules in any
language: ``hotline.web.api.service.HistoryApi`` mounts it; the route table in
``hotline.web.api.endpoints`` is also what ``openapi.json`` is generated from."""
