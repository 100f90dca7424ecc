"""Supply requests (需求上报): submit → approve (possibly less) → fulfilled by issues."""

from __future__ import annotations

from fangkong.supplies.models import RequestStatus, SupplyRequest, SupplyRequestLine


def refresh_request_status(request: SupplyRequest) -> None:
    """Set partly fulfilled / fulfilled from what the lines have issued against approval."""
    if request.status in (RequestStatus.REJECTED, RequestStatus.CANCELLED, RequestStatus.SUBMITTED):
        return
    lines = list(
        SupplyRequestLine.objects.filter(request=request).values_list("approved", "issued")
    )
    approved_lines = [(a or 0, i) for a, i in lines]
    if approved_lines and all(issued >= approved for approved, issued in approved_lines):
        status = RequestStatus.FULFILLED
    elif any(issued for _a, issued in approved_lines):
        status = RequestStatus.PARTLY_FULFILLED
    else:
        status = RequestStatus.APPROVED
    if status != request.status:
        SupplyRequest.objects.filter(pk=request.pk).update(status=status)
        request.status = status
