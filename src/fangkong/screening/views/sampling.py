"""The sampling station (采样点扫码页): one screen for a keyboard-wedge scanner or a phone.

The sampler picks a round (in sampling) and a testing site, then works in one input that
keeps the focus: with no tube open, a scan opens the tube; with a tube open, each scan
adds a person (ID card number, personal QR code, or the last 6 ID digits plus the name).
Every Enter is one small POST (station.js) answered by a partial (``_live.html``): a big
✓ / amber / red panel and the tube's members. A tube barcode typed by hand (not a scanner
burst) must be typed twice. A person not in the ledger is registered on the spot.

Writes go through screening.actions.sampling and screening.actions.scan; this module only reads
what it shows. Needs Perm.SAMPLE over the site (else 404; no Perm.SAMPLE anywhere: 403).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.cleaning import nfkc, record_pk
from fangkong.core.masking import mask
from fangkong.core.scoping import get_scoped_or_404
from fangkong.geo.forms import apply_action_errors
from fangkong.geo.models import Region, Site
from fangkong.geo.views import require_anywhere
from fangkong.people.identity import IdType
from fangkong.screening import codes
from fangkong.screening.models import (
    HOUSEHOLD_POOL,
    POOL_SIZE_CHOICES,
    Round,
    RoundStatus,
    RoundZone,
    Sample,
    Tube,
    TubeStatus,
)
from fangkong.screening.queries.rounds import pool_size_for, sample_sites, sampling_rounds

MAX_INPUT = 200  # longer than any ID, QR payload or barcode: a stuck key or a paste
# The last 6 ID characters with the name, either order: "123456 张伟", "张伟12345X".
_LAST6_NAME = re.compile(r"^(\d{5}[\dX])\s*([^\d\s].*)$|^([^\d\s].*?)\s*(\d{5}[\dX])$")
REPEAT_REASONS = (_lazy("Re-test (复检)"), _lazy("Re-sampling (重新采样)"))
REMOVE_REASONS = (
    _lazy("Scanned by mistake"),
    _lazy("Wrong person"),
    _lazy("Sample spoiled"),
)


# ----------------------------------------------------------------------------- reads


@dataclass
class Station:
    round: Round
    site: Site
    pool_size: int  # the zone's; HOUSEHOLD_POOL is one tube per household


def get_station(user: Any, data: Any) -> Station:
    """The round and site named in ``data`` (GET or POST), or 404."""
    round_pk, site_pk = record_pk(data.get("round")), record_pk(data.get("site"))
    if round_pk is None or site_pk is None:
        raise Http404
    site = get_scoped_or_404(sample_sites(user), user, Perm.SAMPLE, pk=site_pk)
    round_ = sampling_rounds(user).filter(pk=round_pk).first()
    if round_ is None:
        raise Http404
    pool = pool_size_for(round_, site.region_code)
    if pool is None:
        raise Http404
    return Station(round_, site, pool)


@dataclass
class Member:
    sample_id: int
    name: str
    id_masked: str
    scanned_at: Any
    out_of_area: bool
    repeat_reason: str


@dataclass
class TubeView:
    barcode: str
    member_count: int
    capacity: int
    status: str
    status_label: str
    members: list[Member] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status == TubeStatus.OPEN


def tube_view(barcode: str, station: Station) -> TubeView | None:
    """The tube at this station with its live members (two queries), or None."""
    if not barcode:
        return None
    tube = (
        Tube.objects.filter(barcode=barcode, round=station.round, site=station.site)
        .only("barcode", "member_count", "capacity", "status")
        .first()
    )
    if tube is None:
        return None
    rows = (
        Sample.objects.filter(tube=tube, removed_at__isnull=True)
        .select_related("person")
        .only(
            "scanned_at",
            "out_of_area",
            "repeat_reason",
            "person__name",
            "person__id_number",
        )
        .order_by("scanned_at", "id")
    )
    members = [
        Member(
            sample_id=row.pk,
            name=row.person.name,
            id_masked=str(mask("id", row.person.id_number) or "—"),
            scanned_at=row.scanned_at,
            out_of_area=row.out_of_area,
            repeat_reason=row.repeat_reason,
        )
        for row in rows
    ]
    return TubeView(
        barcode=tube.barcode,
        member_count=tube.member_count,
        capacity=tube.capacity,
        status=tube.status,
        status_label=str(tube.get_status_display()),
        members=members,
    )


def resume_tube(user: Any, station: Station, wanted: str = "") -> str:
    """The open tube to continue after a reload: the one asked for, else the user's latest."""
    tubes = Tube.objects.filter(round=station.round, site=station.site, status=TubeStatus.OPEN)
    if wanted:
        return tubes.filter(barcode=wanted).values_list("barcode", flat=True).first() or ""
    mine = tubes.filter(opened_by=user).order_by("-opened_at", "-id")
    return mine.values_list("barcode", flat=True).first() or ""


# ----------------------------------------------------------------------------- results


@dataclass
class Result:
    """What the big panel shows after one Enter."""

    level: str  # ok, warning, error, info
    code: str
    message: str
    person_name: str = ""
    person_id_masked: str = ""
    person_region: str = ""
    out_of_area: bool = False
    needs_reason: bool = False
    offer_walk_in: bool = False
    resend_code: str = ""  # the person code to send again with a reason
    resend_name: str = ""
    walk_in_id: str = ""  # a full ID number to prefill the walk-in form


def result_from_outcome(outcome: Any, code: str, name: str) -> Result:
    result = Result(
        level=outcome.level,
        code=outcome.code,
        message=outcome.message,
        person_name=outcome.person_name or "",
        person_id_masked=outcome.person_id_masked or "",
        person_region=outcome.person_region_name or outcome.person_region or "",
        out_of_area=bool(outcome.out_of_area),
        needs_reason=bool(outcome.needs_reason),
        offer_walk_in=outcome.code == "unknown_person",
    )
    if result.needs_reason:
        result.resend_code, result.resend_name = code, name
    if result.offer_walk_in and len(code) in (15, 18):
        result.walk_in_id = code
    return result


def error_result(exc: ValidationError | PermissionDenied, code: str = "invalid") -> Result:
    if isinstance(exc, PermissionDenied):
        return Result("error", "not_allowed", _("You may not sample at this site."))
    return Result("error", code, " ".join(str(m) for m in exc.messages))


def split_person_code(text: str) -> tuple[str, str]:
    """("123456", "张伟") for "123456 张伟" or "张伟 123456"; else (text, "")."""
    folded = nfkc(text).upper()
    match = _LAST6_NAME.match(folded)
    if not match:
        return text.strip(), ""
    if match.group(1):
        return match.group(1), nfkc(text)[len(match.group(1)) :].strip()
    return match.group(4), nfkc(text)[: -len(match.group(4))].strip()


# ----------------------------------------------------------------------------- forms


class WalkInForm(forms.Form):
    """A person not in the ledger, registered at the site in a few fields (现场登记)."""

    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=64)
    id_type = forms.ChoiceField(
        label=_lazy("Document type"), choices=IdType.choices, initial=IdType.MAINLAND
    )
    id_number = forms.CharField(label=_lazy("Document number"), max_length=40, required=False)
    phone = forms.CharField(label=_lazy("Phone"), max_length=64, required=False)
    village = forms.ChoiceField(label=_lazy("Village"), required=False)

    FIELD_MAP = {"region_code": "village"}

    def __init__(self, *args: Any, villages: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        village = self.fields["village"]
        assert isinstance(village, forms.ChoiceField)
        village.choices = [("", _("The site's village")), *villages]


def villages_near(site: Site) -> list[tuple[str, str]]:
    """The villages of the site's township, for the walk-in form."""
    township = site.region_code[:9]
    return [
        (code, name)
        for code, name in Region.objects.filter(parent_id=township)
        .order_by("code")
        .values_list("code", "short_name")
    ]


def pool_choices(station: Station) -> list[tuple[str, str]]:
    if station.pool_size == HOUSEHOLD_POOL:
        default = _("Zone default: one tube per household")
    else:
        default = _("Zone default: %(size)d per tube") % {"size": station.pool_size}
    sizes = [(str(size), str(label)) for size, label in POOL_SIZE_CHOICES if size]
    return [("", default), *sizes]


def _capacity(value: Any) -> int | None:
    sizes = {size for size, _label in POOL_SIZE_CHOICES if size}
    try:
        number = int(nfkc(value))
    except (TypeError, ValueError):
        return None
    return number if number in sizes else None


# ----------------------------------------------------------------------------- pages


def _context(station: Station, tube: TubeView | None, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "station": station,
        "tube": tube,
        "tube_barcode": tube.barcode if tube and tube.is_open else "",
        "mode": "person" if tube and tube.is_open else "tube",
        "pending": "",
        "repeat_reasons": REPEAT_REASONS,
        "remove_reasons": REMOVE_REASONS,
        "pool_choices": pool_choices(station),
        "capacity_choices": [(size, label) for size, label in POOL_SIZE_CHOICES if size],
    }
    context.update(extra)
    return context


def _live(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """The partial for station.js, or the whole page for a plain form post (no JS)."""
    if request.headers.get("X-Station") == "1":
        html = render_to_string("screening/sampling/_live.html", context)
        response = HttpResponse(html, status=status)
        response["X-Station-Part"] = "live"
        return response
    station: Station = context["station"]
    context["walk_in_form"] = context.get("walk_in_form") or WalkInForm(
        villages=villages_near(station.site)
    )
    return render(request, "screening/sampling/station.html", context, status=status)


@require_anywhere(Perm.SAMPLE)
def station(request: HttpRequest) -> HttpResponse:
    """The station page; without a round and site, the picker."""
    user = request.user
    if not request.GET.get("round") or not request.GET.get("site"):
        return station_picker(request, "screening:station")
    current = get_station(user, request.GET)
    wanted = codes.normalize_barcode(request.GET.get("tube", ""))
    tube = tube_view(resume_tube(user, current, wanted), current)
    context = _context(current, tube)
    context["walk_in_form"] = WalkInForm(villages=villages_near(current.site))
    return render(request, "screening/sampling/station.html", context)


def station_picker(
    request: HttpRequest, target: str, statuses: tuple[str, ...] = (RoundStatus.SAMPLING,)
) -> HttpResponse:
    """Choose the round and the testing site (a page of its own, for ``target``)."""
    user = request.user
    rounds = list(sampling_rounds(user, statuses).order_by("-starts_at", "-id")[:50])
    chosen = record_pk(request.GET.get("round"))
    round_ = next((r for r in rounds if r.pk == chosen), rounds[0] if len(rounds) == 1 else None)
    sites: list[Site] = []
    if round_ is not None:
        zones = list(RoundZone.objects.filter(round=round_).values_list("region_code", flat=True))
        sites = [
            site
            for site in sample_sites(user)[:500]
            if any(site.region_code.startswith(code) for code in zones)
        ]
    return render(
        request,
        "screening/sampling/station_pick.html",
        {"rounds": rounds, "chosen": round_, "sites": sites, "target": target},
    )


@require_POST
@require_anywhere(Perm.SAMPLE)
def station_scan(request: HttpRequest) -> HttpResponse:
    """One Enter: open a tube (no tube in the station) or scan a person into it."""
    from fangkong.screening.actions.sampling import open_tube
    from fangkong.screening.actions.scan import scan

    user = request.user
    current = get_station(user, request.POST)
    raw = request.POST.get("code", "")
    tube_barcode = codes.normalize_barcode(request.POST.get("tube", ""))
    typed = request.POST.get("typed") == "1"
    confirm = request.POST.get("confirm", "")
    extra: dict[str, Any] = {}
    if not nfkc(raw):
        result = Result("error", "empty", _("Nothing was scanned."))
    elif len(raw) > MAX_INPUT:
        result = Result("error", "too_long", _("This is too long for a barcode or an ID."))
    elif not tube_barcode:
        result, tube_barcode, extra = _open(
            request, current, raw, typed, confirm, open_tube=open_tube
        )
    else:
        code, name = split_person_code(raw)
        name = name or nfkc(request.POST.get("name", ""))[:64]
        reason = nfkc(request.POST.get("reason", ""))[:100]
        outcome = scan(
            actor=user, tube_barcode=tube_barcode, person_code=code, reason=reason, name=name
        )
        result = result_from_outcome(outcome, code, name)
        if outcome.tube_barcode:
            tube_barcode = outcome.tube_barcode
    tube = tube_view(tube_barcode, current)
    return _live(request, _context(current, tube, result=result, **extra))


def _open(
    request: HttpRequest,
    current: Station,
    raw: str,
    typed: bool,
    confirm: str,
    *,
    open_tube: Any,
) -> tuple[Result, str, dict[str, Any]]:
    """Open the scanned tube; a typed barcode first asks to be typed again."""
    if typed and not confirm:
        result = Result(
            "warning",
            "confirm_barcode",
            _("Typed by hand: type the tube barcode again to confirm it."),
        )
        return result, "", {"mode": "confirm", "pending": raw.strip()}
    barcode = codes.normalize_barcode(raw)
    if barcode and (not typed or codes.normalize_barcode(confirm) == barcode):
        joined = (
            Tube.objects.filter(
                barcode=barcode, round=current.round, site=current.site, status=TubeStatus.OPEN
            )
            .only("barcode", "member_count", "capacity")
            .first()
        )
        if joined is not None:
            # A second sampler on the same tube, or a reload: continue it (the scan's
            # guarded UPDATE keeps two samplers from overfilling it).
            message = _("Tube %(code)s is already open here (%(count)d/%(capacity)d): continue it.")
            counts = {
                "code": joined.barcode,
                "count": joined.member_count,
                "capacity": joined.capacity,
            }
            return Result("warning", "tube_joined", message % counts), joined.barcode, {}
    try:
        tube = open_tube(
            actor=request.user,
            round_=current.round,
            site=current.site,
            barcode=raw,
            capacity=_capacity(request.POST.get("capacity")),
            typed=typed,
            confirm_barcode=confirm if typed else "",
        )
    except (ValidationError, PermissionDenied) as exc:
        return error_result(exc, "tube_invalid"), "", {}
    message = _("Tube %(code)s opened: scan the people into it.") % {"code": tube.barcode}
    return Result("ok", "tube_opened", message), tube.barcode, {}


def _tube_change(request: HttpRequest, change: Callable[[Tube], Result]) -> HttpResponse:
    """A change to the station's tube (close it, resize it): ``change`` runs the action
    and says what happened; refusals are shown as the action words them."""
    current = get_station(request.user, request.POST)
    barcode = codes.normalize_barcode(request.POST.get("tube", ""))
    tube = Tube.objects.filter(barcode=barcode, round=current.round, site=current.site).first()
    if tube is None:
        result = Result("error", "tube_unknown", _("No tube is open at this station."))
    else:
        try:
            result = change(tube)
        except (ValidationError, PermissionDenied) as exc:
            result = error_result(exc)
    return _live(request, _context(current, tube_view(barcode, current), result=result))


@require_POST
@require_anywhere(Perm.SAMPLE)
def station_close(request: HttpRequest) -> HttpResponse:
    """Close the station's tube by hand (关管)."""
    from fangkong.screening.actions.sampling import close_tube

    def close(tube: Tube) -> Result:
        closed = close_tube(actor=request.user, tube=tube)
        return Result(
            "ok",
            "tube_closed",
            _("Tube %(code)s closed with %(count)d people. Scan the next tube.")
            % {"code": closed.barcode, "count": closed.member_count},
        )

    return _tube_change(request, close)


@require_POST
@require_anywhere(Perm.SAMPLE)
def station_capacity(request: HttpRequest) -> HttpResponse:
    """Change the pool size of the station's open tube (改混管数)."""
    from fangkong.screening.actions.sampling import set_tube_capacity

    capacity = _capacity(request.POST.get("capacity"))

    def resize(tube: Tube) -> Result:
        if capacity is None:
            return Result("error", "invalid", _("Choose a pool size from the list."))
        changed = set_tube_capacity(actor=request.user, tube=tube, capacity=capacity)
        return Result(
            "info",
            "capacity_changed",
            _("Tube %(code)s now takes %(capacity)d people.")
            % {"code": changed.barcode, "capacity": changed.capacity},
        )

    return _tube_change(request, resize)


@require_POST
@require_anywhere(Perm.SAMPLE)
def station_remove(request: HttpRequest) -> HttpResponse:
    """Take a mis-scanned person out of the open tube, with a reason."""
    from fangkong.screening.actions.sampling import remove_sample

    current = get_station(request.user, request.POST)
    barcode = codes.normalize_barcode(request.POST.get("tube", ""))
    sample_pk = record_pk(request.POST.get("sample"))
    sample = (
        Sample.objects.select_related("tube", "person")
        .filter(
            pk=sample_pk or 0,
            tube__barcode=barcode,
            tube__round=current.round,
            tube__site=current.site,
            removed_at__isnull=True,
        )
        .first()
    )
    if sample is None:
        result = Result("error", "not_found", _("This person is not in the tube."))
    else:
        try:
            remove_sample(actor=request.user, sample=sample, reason=request.POST.get("reason", ""))
        except (ValidationError, PermissionDenied) as exc:
            result = error_result(exc)
        else:
            result = Result(
                "info",
                "removed",
                _("%(name)s was taken out of the tube.") % {"name": sample.person.name},
            )
    return _live(request, _context(current, tube_view(barcode, current), result=result))


@require_POST
@require_anywhere(Perm.SAMPLE)
def station_walk_in(request: HttpRequest) -> HttpResponse:
    """Register a walk-in (not in the ledger) and scan them into the open tube."""
    from fangkong.screening.actions.sampling import register_walk_in
    from fangkong.screening.actions.scan import scan

    current = get_station(request.user, request.POST)
    barcode = codes.normalize_barcode(request.POST.get("tube", ""))
    form = WalkInForm(request.POST, villages=villages_near(current.site))
    if form.is_valid():
        data = form.cleaned_data
        try:
            person = register_walk_in(
                actor=request.user,
                round_=current.round,
                site=current.site,
                name=data["name"],
                id_type=data["id_type"],
                id_number=data["id_number"],
                phone=data["phone"],
                region_code=data["village"],
            )
        except (ValidationError, PermissionDenied) as exc:
            if isinstance(exc, PermissionDenied):
                form.add_error(None, _("You may not register people here."))
            else:
                apply_action_errors(form, exc, WalkInForm.FIELD_MAP)
        else:
            return _after_walk_in(request, current, barcode, person, scan)
    if request.headers.get("X-Station") == "1":
        html = render_to_string(
            "screening/sampling/_walkin.html",
            {"walk_in_form": form, "station": current, "open": True},
        )
        response = HttpResponse(html, status=422)
        response["X-Station-Part"] = "walkin"
        return response
    context = _context(current, tube_view(barcode, current), walk_in_form=form, walk_in_open=True)
    return render(request, "screening/sampling/station.html", context, status=422)


def _after_walk_in(
    request: HttpRequest, current: Station, barcode: str, person: Any, scan: Any
) -> HttpResponse:
    registered = _("%(name)s was registered in the ledger.") % {"name": person.name}
    if not barcode:
        result = Result("ok", "registered", registered + " " + _("Open a tube to scan them."))
    else:
        outcome = scan(
            actor=request.user,
            tube_barcode=barcode,
            person_code=person.id_number or person_code_of(person),
            name=person.name,
        )
        result = result_from_outcome(outcome, person.id_number, person.name)
        result.message = registered + " " + result.message
        barcode = outcome.tube_barcode or barcode
    return _live(request, _context(current, tube_view(barcode, current), result=result))


def person_code_of(person: Any) -> str:
    """The personal QR payload, for a person without a document number."""
    return codes.make_person_qr(person.pk)


urlpatterns = [
    path("station/", station, name="station"),
    path("station/scan/", station_scan, name="station_scan"),
    path("station/close/", station_close, name="station_close"),
    path("station/capacity/", station_capacity, name="station_capacity"),
    path("station/remove/", station_remove, name="station_remove"),
    path("station/walk-in/", station_walk_in, name="station_walk_in"),
]
