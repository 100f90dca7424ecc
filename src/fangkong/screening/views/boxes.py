"""Transport boxes and lab handovers (转运箱装箱, 交接单).

The packing page works like the sampling station (station.js): scan a box code to open
the box, then scan closed tubes into it; "finish" leaves the box for the next one. The
handover form hands a site's packed boxes to a lab; the handover list, its detail (the
courier's phone masked, reveal logged) and the printable A4 handover record follow.

Packing and handing over need Perm.SAMPLE over the site; the list, detail and print need
Perm.VIEW_SCREENING (inspectors read them). Out of scope is 404.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.cleaning import nfkc, record_pk
from fangkong.core.masking import mask
from fangkong.core.scoping import get_scoped_or_404, has_permission
from fangkong.geo.forms import apply_action_errors
from fangkong.geo.views import require_anywhere
from fangkong.screening.actions import boxes as actions
from fangkong.screening.models import Box, BoxStatus, Handover, Tube
from fangkong.screening.queries.handovers import (
    PACKING_ROUNDS,
    get_handover,
    reveal_courier_phone,
    visible_handovers,
)
from fangkong.screening.queries.rounds import sample_sites, sampling_rounds
from fangkong.screening.views.sampling import (
    MAX_INPUT,
    Result,
    error_result,
    station_picker,
)

PER_PAGE = 50
BOX_REMOVE_REASONS = (_lazy("Wrong box"), _lazy("Scanned by mistake"))


@dataclass
class BoxStation:
    round: Any
    site: Any


def get_box_station(user: Any, data: Any) -> BoxStation:
    round_pk, site_pk = record_pk(data.get("round")), record_pk(data.get("site"))
    if round_pk is None or site_pk is None:
        raise Http404
    site = get_scoped_or_404(sample_sites(user), user, Perm.SAMPLE, pk=site_pk)
    round_ = sampling_rounds(user, PACKING_ROUNDS).filter(pk=round_pk).first()
    if round_ is None or not actions.site_in_round(round_, site):
        raise Http404
    return BoxStation(round_, site)


@dataclass
class BoxView:
    box: Box
    tubes: list[Tube] = field(default_factory=list)

    @property
    def is_packing(self) -> bool:
        return self.box.status == BoxStatus.PACKING


def box_view(barcode: str, station: BoxStation) -> BoxView | None:
    if not barcode:
        return None
    box = Box.objects.filter(round=station.round, site=station.site, barcode=barcode).first()
    if box is None:
        return None
    tubes = list(
        Tube.objects.filter(box=box)
        .only("barcode", "member_count", "capacity", "status")
        .order_by("barcode")
    )
    return BoxView(box, tubes)


def packing_boxes(station: BoxStation) -> QuerySet[Box]:
    return Box.objects.filter(
        round=station.round, site=station.site, status=BoxStatus.PACKING
    ).order_by("barcode")


def _box_context(station: BoxStation, current: BoxView | None, **extra: Any) -> dict[str, Any]:
    packing = current is not None and current.is_packing
    context: dict[str, Any] = {
        "station": station,
        "current": current,
        "box_barcode": current.box.barcode if packing and current else "",
        "mode": "tube" if packing else "box",
        "boxes": list(packing_boxes(station)),
        "remove_reasons": BOX_REMOVE_REASONS,
    }
    context.update(extra)
    return context


def _box_live(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    if request.headers.get("X-Station") == "1":
        response = HttpResponse(
            render_to_string("screening/boxes/_live.html", context), status=status
        )
        response["X-Station-Part"] = "live"
        return response
    return render(request, "screening/boxes/box_station.html", context, status=status)


@require_anywhere(Perm.SAMPLE)
def box_station(request: HttpRequest) -> HttpResponse:
    """The packing page; without a round and site, the picker."""
    user = request.user
    if not request.GET.get("round") or not request.GET.get("site"):
        return station_picker(request, "screening:box_station", PACKING_ROUNDS)
    station = get_box_station(user, request.GET)
    wanted = actions.normalize_barcode(request.GET.get("box", ""))[:32]
    return render(
        request,
        "screening/boxes/box_station.html",
        _box_context(station, box_view(wanted, station)),
    )


@require_POST
@require_anywhere(Perm.SAMPLE)
def box_scan(request: HttpRequest) -> HttpResponse:
    """One Enter on the packing page: open a box (no box current) or pack a tube into it."""
    user = request.user
    station = get_box_station(user, request.POST)
    raw = request.POST.get("code", "")
    current = actions.normalize_barcode(request.POST.get("box", ""))[:32]
    if request.POST.get("finish") == "1":
        shown = box_view(current, station)
        result = Result(
            "info",
            "box_finished",
            _("Box %(code)s set aside with %(count)d tubes. Scan the next box.")
            % {"code": current, "count": shown.box.tube_count if shown else 0},
        )
        return _box_live(request, _box_context(station, None, result=result))
    if not nfkc(raw):
        result = Result("error", "empty", _("Nothing was scanned."))
    elif len(raw) > MAX_INPUT:
        result = Result("error", "too_long", _("This is too long for a barcode."))
    elif not current:
        result, current = _open_box(request, station, raw)
    else:
        result, current = _pack(request, station, current, raw)
    return _box_live(request, _box_context(station, box_view(current, station), result=result))


def _open_box(request: HttpRequest, station: BoxStation, raw: str) -> tuple[Result, str]:
    try:
        code = actions.clean_box_code(raw)
    except ValidationError as exc:
        return error_result(exc), ""
    existing = Box.objects.filter(round=station.round, barcode=code).first()
    if existing is not None:
        if existing.site_id != station.site.pk:
            return Result(
                "error", "duplicate", _("Box %(code)s is used at another site.") % {"code": code}
            ), ""
        if existing.status != BoxStatus.PACKING:
            return Result(
                "error",
                "handed_over",
                _("Box %(code)s was already handed over.") % {"code": code},
            ), ""
        return Result(
            "ok",
            "box_continued",
            _("Box %(code)s: continue packing.") % {"code": code},
        ), code
    try:
        box = actions.create_box(
            actor=request.user, round_=station.round, site=station.site, barcode=code
        )
    except (ValidationError, PermissionDenied) as exc:
        return error_result(exc), ""
    return Result(
        "ok", "box_opened", _("Box %(code)s opened: scan closed tubes into it.") % {"code": code}
    ), box.barcode


def _pack(request: HttpRequest, station: BoxStation, current: str, raw: str) -> tuple[Result, str]:
    box = Box.objects.filter(round=station.round, site=station.site, barcode=current).first()
    if box is None:
        return Result("error", "unknown_box", _("This box is not at this site.")), ""
    try:
        tube = actions.add_tube(actor=request.user, box=box, tube_barcode=raw)
    except PermissionDenied as exc:
        return error_result(exc), current
    except ValidationError as exc:
        # Scanning another box's code switches to that box.
        code = actions.normalize_barcode(nfkc(raw))
        other = packing_boxes(station).filter(barcode=code).first()
        if other is not None:
            return Result(
                "ok", "box_continued", _("Box %(code)s: continue packing.") % {"code": code}
            ), other.barcode
        return error_result(exc), current
    return Result(
        "ok",
        "tube_boxed",
        _("Tube %(tube)s packed (%(members)d people).")
        % {"tube": tube.barcode, "members": tube.member_count},
    ), current


@require_POST
@require_anywhere(Perm.SAMPLE)
def box_remove(request: HttpRequest) -> HttpResponse:
    """Take a tube out of the current box (it is closed again)."""
    station = get_box_station(request.user, request.POST)
    current = actions.normalize_barcode(request.POST.get("box", ""))[:32]
    box = Box.objects.filter(round=station.round, site=station.site, barcode=current).first()
    if box is None:
        result = Result("error", "unknown_box", _("This box is not at this site."))
    else:
        try:
            tube = actions.remove_tube(
                actor=request.user,
                box=box,
                tube_barcode=request.POST.get("item", ""),
                reason=request.POST.get("reason", ""),
            )
        except (ValidationError, PermissionDenied) as exc:
            result = error_result(exc)
        else:
            result = Result(
                "info",
                "tube_unboxed",
                _("Tube %(tube)s taken out of the box.") % {"tube": tube.barcode},
            )
    return _box_live(request, _box_context(station, box_view(current, station), result=result))


# ----------------------------------------------------------------------------- handover


class LocalDateTimeField(forms.DateTimeField):
    """``<input type=datetime-local>`` in local time; full-width digits folded."""

    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        )
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> dt.datetime | None:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()[:32]
        try:
            return super().to_python(value)
        except (OverflowError, ValueError):
            raise forms.ValidationError(_("Enter a valid date and time."), code="invalid") from None


class BoxChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _("%(code)s (%(count)d tubes)") % {"code": obj.barcode, "count": obj.tube_count}


class HandoverForm(forms.Form):
    boxes = BoxChoiceField(
        label=_lazy("Boxes"),
        queryset=Box.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _lazy("Choose at least one box.")},
    )
    lab_name = forms.CharField(label=_lazy("Lab"), max_length=actions.LAB_MAX)
    courier_name = forms.CharField(label=_lazy("Courier"), max_length=actions.COURIER_MAX)
    courier_phone = forms.CharField(label=_lazy("Courier phone"), max_length=64)
    handed_at = LocalDateTimeField(label=_lazy("Handed over at"))

    def __init__(self, *args: Any, boxes: QuerySet[Box], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field_ = self.fields["boxes"]
        assert isinstance(field_, forms.ModelMultipleChoiceField)
        field_.queryset = boxes


@require_anywhere(Perm.SAMPLE)
def handover_create(request: HttpRequest) -> HttpResponse:
    """Hand the site's packed boxes to a lab."""
    data = request.POST if request.method == "POST" else request.GET
    station = get_box_station(request.user, data)
    boxes = packing_boxes(station)
    status = 200
    if request.method == "POST":
        form = HandoverForm(request.POST, boxes=boxes)
        if form.is_valid():
            try:
                handover = actions.hand_over(
                    actor=request.user,
                    boxes=list(form.cleaned_data["boxes"]),
                    lab_name=form.cleaned_data["lab_name"],
                    courier_name=form.cleaned_data["courier_name"],
                    courier_phone=form.cleaned_data["courier_phone"],
                    handed_at=form.cleaned_data["handed_at"],
                )
            except ValidationError as exc:
                apply_action_errors(form, exc)
            except PermissionDenied:
                form.add_error(None, _("You may not hand over boxes of this site."))
            else:
                messages.success(
                    request,
                    _("%(boxes)d boxes with %(tubes)d tubes handed to %(lab)s.")
                    % {
                        "boxes": handover.box_count,
                        "tubes": handover.tube_count,
                        "lab": handover.lab_name,
                    },
                )
                return redirect("screening:handover_detail", pk=handover.pk)
        status = 422
    else:
        form = HandoverForm(
            boxes=boxes,
            initial={
                "boxes": [box.pk for box in boxes if box.tube_count],
                "handed_at": timezone.localtime().replace(second=0, microsecond=0),
            },
        )
    return render(
        request,
        "screening/boxes/handover_form.html",
        {"station": station, "form": form},
        status=status,
    )


@require_anywhere(Perm.VIEW_SCREENING)
def handover_list(request: HttpRequest) -> HttpResponse:
    queryset = visible_handovers(request.user).select_related("round", "site")
    round_pk = record_pk(request.GET.get("round"))
    if round_pk is not None:
        queryset = queryset.filter(round_id=round_pk)
    page = Paginator(queryset.order_by("-handed_at", "-id"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "screening/boxes/handover_list.html",
        {"page": page, "round_pk": round_pk or ""},
    )


def handover_boxes(handover: Handover) -> list[tuple[Box, list[Tube]]]:
    """The handover's boxes with their tubes (two queries)."""
    boxes = list(Box.objects.filter(handover=handover).order_by("barcode"))
    by_box: dict[int, list[Tube]] = {box.pk: [] for box in boxes}
    for tube in (
        Tube.objects.filter(box__handover=handover)
        .only("barcode", "member_count", "box_id", "status")
        .order_by("barcode")
    ):
        if tube.box_id is not None and tube.box_id in by_box:
            by_box[tube.box_id].append(tube)
    return [(box, by_box[box.pk]) for box in boxes]


@require_anywhere(Perm.VIEW_SCREENING)
def handover_detail(request: HttpRequest, pk: int) -> HttpResponse:
    handover = get_handover(request.user, pk)
    return render(
        request,
        "screening/boxes/handover_detail.html",
        {
            "handover": handover,
            "boxes": handover_boxes(handover),
            "phone_masked": mask("phone", handover.courier_phone),
            "can_reveal": bool(handover.courier_phone)
            and has_permission(request.user, Perm.REVEAL_IDENTITY, handover.region_code),
        },
    )


@require_POST
@require_anywhere(Perm.VIEW_SCREENING)
def handover_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The courier's phone in full (Perm.REVEAL_IDENTITY over the record), logged."""
    handover = get_handover(request.user, pk)
    phone = reveal_courier_phone(request.user, handover, "page")
    return render(
        request,
        "screening/boxes/_courier_phone.html",
        {"phone": phone, "revealed": True},
    )


@require_anywhere(Perm.VIEW_SCREENING)
def handover_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The handover record for A4 print (交接单), with signature lines."""
    handover = get_handover(request.user, pk)
    return render(
        request,
        "screening/boxes/handover_print.html",
        {
            "handover": handover,
            "boxes": handover_boxes(handover),
            "phone_masked": mask("phone", handover.courier_phone),
        },
    )


urlpatterns = [
    path("boxes/", box_station, name="box_station"),
    path("boxes/scan/", box_scan, name="box_scan"),
    path("boxes/remove/", box_remove, name="box_remove"),
    path("handovers/", handover_list, name="handover_list"),
    path("handovers/new/", handover_create, name="handover_create"),
    path("handovers/<int:pk>/", handover_detail, name="handover_detail"),
    path("handovers/<int:pk>/reveal/", handover_reveal, name="handover_reveal"),
    path("handovers/<int:pk>/print/", handover_print, name="handover_print"),
]
