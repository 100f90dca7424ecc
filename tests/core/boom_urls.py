"""The product's URLs plus routes that fail, to see the error pages."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from fangkong.urls import urlpatterns as product_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


urlpatterns = [
    path("boom/", boom),
    path("api/boom/", boom),
    path("forbidden/", forbidden),
    path("api/forbidden/", forbidden),
    *product_urlpatterns,
]

handler400 = "fangkong.core.views.error_400"
handler403 = "fangkong.core.views.error_403"
handler404 = "fangkong.core.views.error_404"
handler500 = "fangkong.core.views.error_500"
