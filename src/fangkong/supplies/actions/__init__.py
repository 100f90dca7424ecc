"""Every write on supplies (DESIGN rule 2), one module per area.

documents: receipts, issues, transfers, adjustments, reversals (the ledger's only door);
catalogue: items, packs, lots, locations, minimum levels; requests; runs (delivery runs);
counts (stock-takes); donations; snapshots (the daily closing table).
"""
