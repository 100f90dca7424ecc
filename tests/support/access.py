"""The access matrix every endpoint gets (DEVELOPERS.md, DESIGN rule 1).

For a record in region R and a route that needs role X:
- anonymous: pages redirect to login, the API answers 401;
- a user without the needed role (even over R): 403 on pages, 403/404 on the API
  (404 where the route cannot tell apart "not yours" from "absent");
- role X over another region: 404, and the record is absent from lists, search, exports;
- role X over R (or an ancestor of R): allowed.

Use ``check_access_matrix`` with an ``AccessCase``; ``assert_absent`` and ``assert_present``
check lists, search results and exports for a marker string.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.test import Client
from django.test.utils import CaptureQueriesContext


@dataclass
class AccessCase:
    url: str
    role: str  # the role that may use the route
    region: str  # where the record lives (the allowed user's assignment)
    other_region: str  # a region outside ``region`` (same role there: must get 404)
    wrong_role: str | None  # a role that may not use the route, assigned over ``region``
    method: str = "get"
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False  # JSON route: 401 for anonymous instead of a login redirect
    allowed_status: tuple[int, ...] = (200, 201, 204, 302)
    content_type: str | None = None


def _call(client: Client, case: AccessCase) -> Any:
    method = getattr(client, case.method)
    if case.method == "get":
        return method(case.url, case.data)
    if case.content_type:
        return method(case.url, case.data, content_type=case.content_type)
    return method(case.url, case.data)


def check_access_matrix(
    case: AccessCase,
    make_user: Callable[..., Any],
    client_for: Callable[[Any], Client],
    *,
    wrong_role_statuses: tuple[int, ...] = (403, 404),
) -> dict[str, Any]:
    """Run the four rows of the matrix; returns the responses for further checks."""
    results: dict[str, Any] = {}

    anonymous = _call(client_for(None), case)
    if case.api:
        assert anonymous.status_code == 401, f"anonymous {case.url}: {anonymous.status_code}"
    else:
        assert anonymous.status_code in (302, 401, 403), anonymous.status_code
        if anonymous.status_code == 302:
            assert "/accounts/login/" in anonymous["Location"]
    results["anonymous"] = anonymous

    if case.wrong_role is not None:
        wrong = make_user(role=case.wrong_role, region=case.region)
        response = _call(client_for(wrong), case)
        assert response.status_code in wrong_role_statuses, (
            f"wrong role {case.wrong_role} on {case.url}: {response.status_code}"
        )
        results["wrong_role"] = response

    outsider = make_user(role=case.role, region=case.other_region)
    response = _call(client_for(outsider), case)
    assert response.status_code == 404, (
        f"{case.role} of {case.other_region} on {case.url}: {response.status_code}, want 404"
    )
    results["other_region"] = response

    insider = make_user(role=case.role, region=case.region)
    response = _call(client_for(insider), case)
    assert response.status_code in case.allowed_status, (
        f"{case.role} of {case.region} on {case.url}: {response.status_code}"
    )
    results["allowed"] = response
    return results


def body_text(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def assert_absent(client: Client, url: str, marker: str, **params: Any) -> None:
    """The marker (a name, a code) does not appear in the page, API list, search or export."""
    response = client.get(url, params)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    assert marker not in body_text(response), f"{marker!r} leaked through {url}"


def assert_present(client: Client, url: str, marker: str, **params: Any) -> None:
    response = client.get(url, params)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    assert marker in body_text(response), f"{marker!r} missing from {url}"


def count_queries(client: Client, url: str, **params: Any) -> int:
    """Queries a GET runs (pin it: a list must not grow with its page size)."""
    from django.db import connection

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(ctx.captured_queries)
