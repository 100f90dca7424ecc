"""Key-group pages (重点人群类别): the list for everyone who sees the ledger; create, edit,
retire and reactivate for holders of Perm.MANAGE_KEY_GROUPS (HQ).

Key groups are install-wide (no region), so there is nothing to scope: an unknown id is
a 404 and a user without the permission anywhere gets a 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import has_permission
from fangkong.geo.views import require_anywhere
from fangkong.people import actions
from fangkong.people.forms import KeyGroupForm, apply_action_errors
from fangkong.people.models import KeyGroup

MAX_PK = 2**63 - 1


def _group_or_404(pk: int) -> KeyGroup:
    group = KeyGroup.objects.filter(pk=pk).first() if pk <= MAX_PK else None
    if group is None:
        raise Http404
    return group


@require_anywhere(Perm.VIEW_PEOPLE)
def key_group_list(request: HttpRequest) -> HttpResponse:
    can_manage = has_permission(request.user, Perm.MANAGE_KEY_GROUPS)
    groups = KeyGroup.objects.order_by("-active", "priority", "code")
    if not can_manage:  # retired groups only matter to those who may bring them back
        groups = groups.filter(active=True)
    return render(
        request,
        "people/keygroup_list.html",
        {"groups": list(groups), "can_manage": can_manage},
    )


@require_anywhere(Perm.MANAGE_KEY_GROUPS)
def key_group_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = KeyGroupForm(request.POST)
        if form.is_valid():
            try:
                group = actions.create_key_group(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                apply_action_errors(form, exc)
            else:
                messages.success(request, _("Created key group %(name)s.") % {"name": group.name})
                return redirect("people:key_group_list")
    else:
        form = KeyGroupForm()
    return render(request, "people/keygroup_form.html", {"form": form, "group": None})


@require_anywhere(Perm.MANAGE_KEY_GROUPS)
def key_group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    group = _group_or_404(pk)
    if request.method == "POST":
        form = KeyGroupForm(request.POST, editing=True)
        if form.is_valid():
            try:
                group = actions.update_key_group(
                    actor=request.user, group=group, **form.cleaned_data
                )
            except ValidationError as exc:
                apply_action_errors(form, exc)
            else:
                messages.success(request, _("Saved key group %(name)s.") % {"name": group.name})
                return redirect("people:key_group_list")
    else:
        form = KeyGroupForm(initial={"name": group.name, "priority": group.priority}, editing=True)
    return render(request, "people/keygroup_form.html", {"form": form, "group": group})


@require_POST
@require_anywhere(Perm.MANAGE_KEY_GROUPS)
def key_group_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    group = _group_or_404(pk)
    active = request.POST.get("active", "") in {"1", "true", "on", "yes"}
    group = actions.set_key_group_active(actor=request.user, group=group, active=active)
    if active:
        messages.success(request, _("Key group %(name)s is active again.") % {"name": group.name})
    else:
        messages.success(request, _("Key group %(name)s is retired.") % {"name": group.name})
    return redirect("people:key_group_list")
