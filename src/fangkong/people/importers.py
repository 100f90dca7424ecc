"""The people ledger importer; it lives in ``people.importing`` (kept importable here)."""

from fangkong.people.importing import JOB_KIND, PEOPLE_SCHEMA, PeopleImporter, import_people_file

__all__ = ["JOB_KIND", "PEOPLE_SCHEMA", "PeopleImporter", "import_people_file"]
