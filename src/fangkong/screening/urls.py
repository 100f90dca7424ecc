"""Mass-testing pages under /screening/: each area's view module brings its own patterns."""

from __future__ import annotations

from fangkong.screening.views import boxes, cards, results, rounds, sampling, tracing

app_name = "screening"

urlpatterns = [
    *rounds.urlpatterns,  # "" is the round list
    *sampling.urlpatterns,
    *boxes.urlpatterns,
    *results.urlpatterns,
    *tracing.urlpatterns,
    *cards.urlpatterns,
]
