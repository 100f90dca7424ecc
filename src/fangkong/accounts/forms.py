"""Forms for login, users, role assignments, passwords and tokens.

Forms only shape the input (NFKC, formats); the actions decide everything else (scope,
duplicates, password rules), and ``apply_errors`` puts their messages on the fields.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.models import User
from fangkong.accounts.roles import Role
from fangkong.accounts.validation import (
    clean_region_code,
    clean_region_code_format,
    clean_username,
    nfkc,
)


class RegionCodeField(forms.CharField):
    """A division code typed as text; full-width digits and spaces are folded.

    ``must_exist`` also checks the code against the loaded region tree.
    """

    def __init__(self, *args: Any, must_exist: bool = True, **kwargs: Any) -> None:
        self.must_exist = must_exist
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "help_text", _("The NBS code, such as 410522 (安阳县) or 410522116 (高庄镇).")
        )
        super().__init__(*args, **kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "autocomplete": "off", "list": "fk-region-codes"})
        return attrs

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if not value:
            return ""
        return clean_region_code(value) if self.must_exist else clean_region_code_format(value)


def apply_errors(
    form: forms.Form, exc: ValidationError, rename: dict[str, str] | None = None
) -> None:
    """Put an action's ValidationError on the form's fields (unknown fields: on top)."""
    rename = rename or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, messages in exc.message_dict.items():
        field = rename.get(name, name)
        form.add_error(field if field in form.fields else None, messages)


class BootstrapMixin:
    """Bootstrap classes on every widget, so templates render fields with one partial."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


_USERNAME_ATTRS = {
    "autocapitalize": "none",
    "autocorrect": "off",
    "spellcheck": "false",
    "autocomplete": "username",
}


class LoginForm(BootstrapMixin, auth_forms.AuthenticationForm):
    """Django's login form; the username matches regardless of case and full-width forms.

    Phones capitalise the first letter on their own; the name is mapped to the stored
    spelling before authenticating, so the lockout counts one username, not its variants.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({**_USERNAME_ATTRS, "autofocus": True})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})

    def clean_username(self) -> str:
        typed = nfkc(self.cleaned_data.get("username"))
        # AuthenticationForm sets max_length after building the field, so no validator
        # enforces it: an over-long name would reach django-axes, whose 255-character
        # column refuses it on PostgreSQL (a 500).
        if len(typed) > (getattr(self.fields["username"], "max_length", None) or 150):
            raise self.get_invalid_login_error()
        matches = list(User.objects.filter(username__iexact=typed).values_list("username")[:2])
        if len(matches) == 1:
            return str(matches[0][0])
        return typed


def role_choices() -> list[tuple[str, Any]]:
    # A blank first entry: nobody should grant "HQ" just because it was listed first.
    return [("", _("Choose a role")), *Role.choices]


class ScopedRegionsMixin:
    """Checks region fields against the actor's scope, so the message shows with the rest."""

    scoped_fields: tuple[str, ...] = ()
    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, actor: Any = None, **kwargs: Any) -> None:
        self.actor = actor
        super().__init__(*args, **kwargs)

    def _check_scope(self, data: dict[str, Any]) -> None:
        from fangkong.accounts.actions import check_grantable

        for name in self.scoped_fields:
            code = data.get(name)
            if not code:
                continue
            try:
                check_grantable(self.actor, code)
            except ValidationError as exc:
                self.add_error(name, exc)  # type: ignore[attr-defined]


class _ProfileFields(BootstrapMixin, forms.Form):
    display_name = forms.CharField(label=_("Name"), required=False, max_length=200)
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    organization = forms.CharField(label=_("Work unit"), required=False, max_length=300)


class UserCreateForm(ScopedRegionsMixin, _ProfileFields):
    username = forms.CharField(
        label=_("Username"),
        max_length=200,
        help_text=_("3 to 64 letters, digits, Chinese characters or . _ -"),
        widget=forms.TextInput(attrs=_USERNAME_ATTRS),
    )
    region_code = RegionCodeField(label=_("Home region"))
    role = forms.ChoiceField(label=_("Role"), choices=role_choices)
    role_region_code = RegionCodeField(
        label=_("Role applies to region"),
        required=False,
        help_text=_("Leave empty to use the home region."),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    field_order = [
        "username",
        "display_name",
        "region_code",
        "role",
        "role_region_code",
        "phone",
        "organization",
        "password1",
        "password2",
    ]

    def clean_username(self) -> str:
        return clean_username(self.cleaned_data.get("username"))

    scoped_fields = ("region_code", "role_region_code")

    def clean(self) -> dict[str, Any]:
        from fangkong.accounts.actions import check_password

        data = super().clean() or {}
        self._check_scope(data)
        password = data.get("password1")
        if password and data.get("password2") != password:
            self.add_error("password2", _("The two passwords differ."))
        elif password:
            probe = User(
                username=data.get("username") or "", display_name=data.get("display_name") or ""
            )
            try:
                check_password(password, probe, field="password1")
            except ValidationError as exc:
                apply_errors(self, exc)
        return data

    RENAME = {"password": "password1", "roles": "role_region_code"}


class UserEditForm(ScopedRegionsMixin, _ProfileFields):
    email = forms.CharField(label=_("Email"), required=False, max_length=300)
    region_code = RegionCodeField(label=_("Home region"))

    scoped_fields = ("region_code",)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._check_scope(data)
        return data

    field_order = ["display_name", "region_code", "phone", "organization", "email"]


class AssignmentForm(ScopedRegionsMixin, BootstrapMixin, forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=role_choices)
    region_code = RegionCodeField(label=_("Region"))

    scoped_fields = ("region_code",)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._check_scope(data)
        return data


class SetPasswordForm(BootstrapMixin, forms.Form):
    """A new password typed twice (HQ resetting a user's password)."""

    password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") != data.get("password1"):
            self.add_error("password2", _("The two passwords differ."))
        return data

    RENAME = {"password": "password1"}


class TokenCreateForm(BootstrapMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        help_text=_("What uses the token, such as 高庄镇 scanner 1."),
    )


class PasswordChangeForm(BootstrapMixin, auth_forms.PasswordChangeForm):
    """Django's form: old password, new one twice, Django's validators."""
