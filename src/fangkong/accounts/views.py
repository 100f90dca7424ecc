"""Account pages: login, password change, user management (HQ), personal API tokens.

Pages that manage users answer 403 to a role without ``Perm.MANAGE_USERS`` anywhere and
404 for a user outside the actor's scope (DESIGN rule 1). Writes go through actions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from fangkong.accounts import actions, queries
from fangkong.accounts.filters import UserFilter
from fangkong.accounts.forms import (
    AssignmentForm,
    LoginForm,
    PasswordChangeForm,
    SetPasswordForm,
    TokenCreateForm,
    UserCreateForm,
    UserEditForm,
    apply_errors,
)
from fangkong.accounts.models import User
from fangkong.accounts.roles import Perm
from fangkong.accounts.tables import UserTable
from fangkong.core.scoping import ensure_permission_somewhere

USERS_PER_PAGE = 50


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def _require_manager(request: HttpRequest) -> None:
    ensure_permission_somewhere(request.user, Perm.MANAGE_USERS)


def _managed_user(request: HttpRequest, pk: int) -> User:
    _require_manager(request)
    try:
        return queries.managed_users(request.user).get(pk=pk)
    except User.DoesNotExist:
        raise Http404 from None


def _region_context(request: HttpRequest) -> dict[str, Any]:
    return {"region_choices": queries.region_choices(request.user)}


# ---------------------------------------------------------------- own account


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.set_password(actor=user, user=user, password=form.cleaned_data["new_password1"])
        except ValidationError as exc:
            apply_errors(form, exc, {"password": "new_password1"})
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password was changed."))
            return redirect("core:home")
    return render(request, "accounts/password_change.html", {"form": form})


# ---------------------------------------------------------------- users (HQ)


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    filterset = UserFilter(request.GET or None, queryset=queries.user_list(request.user))
    table = UserTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": USERS_PER_PAGE}).configure(table)
    return render(request, "accounts/user_list.html", {"filter": filterset, "table": table})


@login_required
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _managed_user(request, pk)
    token_counts = queries.tokens_of(subject).aggregate(
        total=Count("id"), active=Count("id", filter=Q(revoked_at__isnull=True))
    )
    context = {
        "subject": subject,
        "assignments": queries.assignments_with_names(subject),
        "tokens": list(queries.tokens_of(subject)[:50]),
        "token_counts": token_counts,
        "audit_entries": queries.audit_about(request.user, subject),
        "assignment_form": AssignmentForm(),
        "is_self": subject.pk == request.user.pk,
        **_region_context(request),
    }
    return render(request, "accounts/user_detail.html", context)


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = UserCreateForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = actions.create_user(
                actor=request.user,
                username=data["username"],
                password=data["password1"],
                region_code=data["region_code"],
                display_name=data["display_name"],
                phone=data["phone"],
                organization=data["organization"],
                roles=[(data["role"], data["role_region_code"] or data["region_code"])],
            )
        except ValidationError as exc:
            apply_errors(form, exc, UserCreateForm.RENAME)
        else:
            messages.success(request, _("User %(name)s was created.") % {"name": user.username})
            return redirect("accounts:user_detail", pk=user.pk)
    return render(
        request,
        "accounts/user_form.html",
        {"form": form, "creating": True, **_region_context(request)},
    )


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _managed_user(request, pk)
    initial = {
        "display_name": subject.display_name,
        "phone": subject.phone,
        "organization": subject.organization,
        "email": subject.email,
        "region_code": subject.region_code,
    }
    form = UserEditForm(request.POST or None, initial=initial, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_user(actor=request.user, user=subject, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect("accounts:user_detail", pk=subject.pk)
    return render(
        request,
        "accounts/user_form.html",
        {"form": form, "subject": subject, "creating": False, **_region_context(request)},
    )


@login_required
def assignment_add(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _managed_user(request, pk)
    form = AssignmentForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            actions.assign_role(
                actor=request.user,
                user=subject,
                role=form.cleaned_data["role"],
                region_code=form.cleaned_data["region_code"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The role was assigned."))
            return redirect("accounts:user_detail", pk=subject.pk)
    return render(
        request,
        "accounts/assignment_form.html",
        {"form": form, "subject": subject, **_region_context(request)},
    )


@login_required
@require_POST
def assignment_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    assignment = queries.managed_assignment(request.user, pk)
    if assignment is None:
        raise Http404
    try:
        actions.revoke_role(actor=request.user, assignment=assignment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The role was removed."))
    return redirect("accounts:user_detail", pk=assignment.user_id)


@login_required
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _managed_user(request, pk)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.set_password(
                actor=request.user, user=subject, password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            apply_errors(form, exc, SetPasswordForm.RENAME)
        else:
            if subject.pk == request.user.pk:
                update_session_auth_hash(request, subject)
            messages.success(
                request,
                _("The password of %(name)s was reset. Give it to them in person or by phone.")
                % {"name": subject.username},
            )
            return redirect("accounts:user_detail", pk=subject.pk)
    return render(request, "accounts/user_password.html", {"form": form, "subject": subject})


@login_required
@require_POST
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _managed_user(request, pk)
    active = request.POST.get("active") in {"1", "true", "on"}
    try:
        actions.set_user_active(actor=request.user, user=subject, active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        text = _("%(name)s was reactivated.") if active else _("%(name)s was deactivated.")
        messages.success(request, text % {"name": subject.username})
    return redirect("accounts:user_detail", pk=subject.pk)


# ---------------------------------------------------------------- API tokens


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    tokens = queries.tokens_of(request.user)
    return render(
        request, "accounts/token_list.html", {"tokens": tokens, "form": TokenCreateForm()}
    )


@never_cache
@login_required
def token_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = TokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = actions.create_token(actor=user, user=user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            # Rendered, not redirected: the raw token must not sit in a session or a URL.
            return render(request, "accounts/token_created.html", {"token": token, "raw": raw})
    return render(request, "accounts/token_form.html", {"form": form})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = queries.managed_token(request.user, pk)
    if token is None:
        raise Http404
    try:
        actions.revoke_token(actor=request.user, token=token)
    except PermissionDenied:
        raise Http404 from None
    messages.success(request, _("The token %(name)s was revoked.") % {"name": token.name})
    if token.user_id == request.user.pk:
        return HttpResponseRedirect(reverse("accounts:token_list"))
    return HttpResponseRedirect(reverse("accounts:user_detail", args=[token.user_id]))
