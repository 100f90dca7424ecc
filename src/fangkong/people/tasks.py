"""Job kinds of people: registered here so every worker knows them (core autodiscovers)."""

from fangkong.people import import_jobs  # noqa: F401  (registers "people.import")
