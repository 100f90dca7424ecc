"""Mass-testing pages under /screening/, one module per area."""
