"""Every write on mass testing (DESIGN rule 2), one module per area.

rounds: plan, zones, start (target population), status, close; sampling: tubes, the scan
(screening.actions.scan holds its hot path), boxes, handovers, walk-ins; results: lab result
lines; tracing: positive cases, re-sampling tasks, control measures.
"""
