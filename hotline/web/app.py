"""The aiohttp application: each feature contributes its routes here.

Later issues (supervisor page, agent screen-pop, admin, REST API for chat and e-mail) add
a keyword argument and an ``add_routes`` call; handlers get their collaborators through
their own objects, never through module globals.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from hotline.web.health import Health, ReadinessCheck


def create_web_app(*, readiness: Mapping[str, ReadinessCheck]) -> web.Application:
    app = web.Application()
    Health(readiness).add_routes(app)
    return app
