"""Home page, error pages and the JSON 404 for unknown API paths."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from fangkong.core.api import error_body
from fangkong.core.queries import jurisdiction_summary


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The user's jurisdiction at a glance (我的辖区)."""
    return render(request, "core/home.html", {"summary": jurisdiction_summary(request.user)})


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body("not_found", _("No such API route.")), status=404)


def _error_page(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        code = {403: "forbidden", 404: "not_found", 500: "server_error"}[status]
        return JsonResponse(error_body(code, text), status=status)
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": title, "text": text},
        status=status,
    )


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 403, _("Not allowed"), _("Your role does not allow this page."))


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        404,
        _("Not found"),
        _("This page does not exist, or it is outside your jurisdiction."),
    )


def error_500(request: HttpRequest) -> HttpResponse:
    return _error_page(
        request,
        500,
        _("Server error"),
        _("Something went wrong on our side. It has been logged; please try again."),
    )
