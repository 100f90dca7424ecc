"""Region and site pages (placeholder: built out in the geo work)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.geo.models import Region, Site


@login_required
def region_list(request: HttpRequest) -> HttpResponse:
    regions = restrict(Region.objects.all(), request.user, Perm.VIEW_REGIONS)[:200]
    return render(request, "geo/region_list.html", {"regions": regions})


@login_required
def site_list(request: HttpRequest) -> HttpResponse:
    sites = restrict(Site.objects.all(), request.user, Perm.VIEW_SITES)[:200]
    return render(request, "geo/site_list.html", {"sites": sites})
