"""Reads on lab handovers (交接单): the scoped list, one record, the courier's phone."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.scoping import get_scoped_or_404, has_permission, restrict
from fangkong.screening.models import Handover, RoundStatus
from fangkong.screening.queries.rounds import MAX_PK

# Boxes are packed while sampling and until the last tubes leave for the lab.
PACKING_ROUNDS = (RoundStatus.SAMPLING, RoundStatus.AWAITING_RESULTS)


def visible_handovers(user: Any) -> QuerySet[Handover]:
    return restrict(Handover.objects.all(), user, Perm.VIEW_SCREENING)


def get_handover(user: Any, pk: int) -> Handover:
    if not 0 < pk <= MAX_PK:
        raise Http404
    return get_scoped_or_404(
        Handover.objects.select_related("round", "site", "created_by"),
        user,
        Perm.VIEW_SCREENING,
        pk=pk,
    )


def reveal_courier_phone(user: Any, handover: Handover, via: str) -> str:
    """The courier's phone in full: needs Perm.REVEAL_IDENTITY over the record; logged
    (``via`` is "page" or "api")."""
    if not has_permission(user, Perm.REVEAL_IDENTITY, handover.region_code):
        raise PermissionDenied
    log_access(
        user,
        "reveal",
        object_type="screening.handover",
        object_id=str(handover.pk),
        region_code=handover.region_code,
        fields=["courier_phone"],
        unmasked=True,
        detail=via,
    )
    return handover.courier_phone
