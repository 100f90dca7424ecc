"""Job kinds of screening: registered here so every worker knows them (core autodiscovers)."""

from fangkong.screening import result_jobs  # noqa: F401  (registers "screening.import_results")
