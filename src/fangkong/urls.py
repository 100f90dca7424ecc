"""URL map: pages per app, the API under /api/v1, JSON 404 for any other /api/ path."""

from __future__ import annotations

from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from fangkong.api import api
from fangkong.core import views as core_views

# The API first: a scanner's call then tries one pattern, not every page's.
urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("fangkong.core.urls")),
    path("accounts/", include("fangkong.accounts.urls")),
    path("geo/", include("fangkong.geo.urls")),
    path("people/", include("fangkong.people.urls")),
    path("supplies/", include("fangkong.supplies.urls")),
    path("screening/", include("fangkong.screening.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    re_path(r"^api/", core_views.api_not_found),
]

handler400 = "fangkong.core.views.error_400"
handler403 = "fangkong.core.views.error_403"
handler404 = "fangkong.core.views.error_404"
handler500 = "fangkong.core.views.error_500"
