"""Importing people ledgers (人员台账导入): the people side of core.importing.

This package is the bulk write path of people (the importer's action; callers enter
through ``people.actions.import_people``): each batch is checked row by row
(``checking``, with per-cell fast paths in ``cells``; for a large workbook in a second
process, core.importing.checking_process), then its villages are matched and it is
written atomically with plain executemany/COPY (``writing``); every updated person gets
an audit entry with before and after, and the import as a whole one "people.import"
entry with the counts.
New persons are listed in that summary only.

Matching (re-importing the same file changes nothing):
- a person with a document is the same person when (id_type, id_number) match;
- without a document, when region, simplified name and birth date (or phone) match.
A second row for the same person inside one file is rejected, naming the first row
(rows are never silently merged: the user sees which one went in).

Scope: only people within the actor's IMPORT_PEOPLE scope are written. A row for a
village outside it is rejected; so is a row whose ID belongs to a person outside it,
without saying anything about that person.
"""

from fangkong.people.importing.importer import PeopleImporter, import_people_file
from fangkong.people.importing.schema import JOB_KIND, PEOPLE_SCHEMA

__all__ = ["JOB_KIND", "PEOPLE_SCHEMA", "PeopleImporter", "import_people_file"]
