"""WSGI entry point (granian --interface wsgi fangkong.wsgi:application).

Two Django handlers behind one dispatcher. A token-authenticated API call (a path under
/api/v1/ carrying ``Authorization: Bearer fk_...`` or ``X-API-Token: fk_...``) goes to a
handler built from settings.API_TOKEN_MIDDLEWARE: no sessions, CSRF, messages, htmx,
axes or clickjacking middleware, which only browsers need and which together cost every
token call (a handheld scanner's ``POST /api/v1/screening/scan``) 40-85 µs of CPU. The
token alone decides who the caller is there: a session cookie sent with it is not read.
Everything else, browser calls to the API included (session + CSRF), goes through the
full settings.MIDDLEWARE. The scan (``POST /api/v1/screening/scan`` with a token) has a
route of its own, screening.api.scan_route (D31), which hands anything but the everyday
call on to the token handler. Both handlers share the URLconf, the views and the database
connections; tests/core/test_api_fastpath.py checks they answer alike.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")

API_PREFIX = "/api/v1/"
# fangkong.core.api.TOKEN_PREFIX (that module needs settings; this one runs before setup)
_TOKEN_MARK = "fk_"  # noqa: S105  (a marker, not a secret)


class ApiTokenHandler(WSGIHandler):
    """A Django handler whose middleware chain is settings.API_TOKEN_MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        from django.conf import settings

        # BaseHandler.load_middleware reads settings.MIDDLEWARE and nothing else names the
        # list; swap it for the build only. This runs once, at import, before any request
        # thread exists.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_TOKEN_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def carries_api_token(environ: dict[str, Any]) -> bool:
    """Whether the request is an API call authenticated by a token (the lean path)."""
    if not environ.get("PATH_INFO", "").startswith(API_PREFIX):
        return False
    if environ.get("HTTP_X_API_TOKEN", "").startswith(_TOKEN_MARK):
        return True
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    # ninja's HttpBearer takes the scheme in any case, then one space, then the token.
    return authorization[:7].lower() == "bearer " and authorization[7:10] == _TOKEN_MARK


StartResponse = Callable[..., Any]


def make_application() -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    full = get_wsgi_application()  # also runs django.setup()
    token = ApiTokenHandler()
    from fangkong.screening.api.scan_route import ScanRoute, is_scan_call

    scan_route = ScanRoute(fallback=token)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not carries_api_token(environ):
            return full(environ, start_response)
        if is_scan_call(environ):
            return scan_route(environ, start_response)
        return token(environ, start_response)

    application.full_handler = full  # type: ignore[attr-defined]
    application.token_handler = token  # type: ignore[attr-defined]
    application.scan_route = scan_route  # type: ignore[attr-defined]
    return application


def _warm_up() -> None:
    """Build what the first request would otherwise build (URL patterns, catalogues), so
    that gc.freeze() below takes it out of the collector's way too."""
    from django.conf import settings
    from django.urls import get_resolver
    from django.utils import translation

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018  (imports every view module)
    resolver.reverse_dict  # noqa: B018  (builds the reverse lookup tables)
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Not found.")


application = make_application()
_warm_up()
# Everything loaded so far lives as long as the process: move it out of the collector's
# generations, so that the collections requests trigger do not walk it again and again
# (~6% of a granian worker's CPU under the scan load before this).
gc.freeze()
