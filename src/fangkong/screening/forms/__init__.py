"""Forms of the mass-testing pages, one module per area."""
