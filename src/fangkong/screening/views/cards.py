"""The personal code card (个人核酸码): a printable QR a person shows at the testing site.

Cadres print it for people without a phone or an ID card at hand (elderly, children,
bedridden people sampled door to door). The code holds no identity number
(screening.codes); the card shows the name, the masked ID and the village.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.safestring import mark_safe

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import get_scoped_or_404
from fangkong.geo.models import Region
from fangkong.geo.views import require_anywhere
from fangkong.people.models import Person
from fangkong.people.queries import masked_identity
from fangkong.screening.codes import person_qr_svg


@require_anywhere(Perm.VIEW_PEOPLE)
def person_card(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_scoped_or_404(
        Person.objects.filter(merged_into__isnull=True), request.user, Perm.VIEW_PEOPLE, pk=pk
    )
    region = Region.objects.filter(code=person.region_code).first()
    return render(
        request,
        "screening/cards/person_card.html",
        {
            "person": person,
            "masked": masked_identity(person),
            "region": region,
            # segno escapes the title it is given; the SVG is markup we generated.
            "qr_svg": mark_safe(person_qr_svg(person, scale=6)),  # noqa: S308
        },
    )


urlpatterns = [
    path("people/<int:pk>/card/", person_card, name="person_card"),
]
