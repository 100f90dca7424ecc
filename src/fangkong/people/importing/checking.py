"""Checking one ledger row: what it says about a person, or why it is rejected.

Pure Python over the row's cells plus a few cached lookups (villages by name, key groups,
names' pinyin); nothing here writes. Caches live on the checker, one per import, because
a cached rejection is a message in the import's language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core.cleaning import nfkc
from fangkong.core.importing.batchcells import BatchCells
from fangkong.core.importing.bulk import as_date, date_adapter
from fangkong.core.importing.runner import Row
from fangkong.core.importing.values import cell_text
from fangkong.core.regioncodes import Level, level_of
from fangkong.core.scoping import scope_codes
from fangkong.people.identity import (
    IdError,
    IdType,
    clean_other_document,
    looks_like_lost_digits,
    normalize_number,
    parse_legacy15,
)
from fangkong.people.importing import cells
from fangkong.people.importing.cells import RowError
from fangkong.people.importing.schema import (
    ID_TYPE_WORDS,
    LEGACY15,
    MAINLAND,
    NO_DOCUMENT,
    PASSPORT,
    RISK_WORDS,
    SEX_WORDS,
)
from fangkong.people.models import KeyGroup

# "4.10522E+17" as typed or pasted (identity.looks_like_lost_digits strips the dot first).
_SCIENTIFIC = re.compile(r"^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$")
_GROUP_SEPARATORS = re.compile(r"[,，、;；/]+")
_NO_TEXT = (None, "")


# Fields compared and written for a person (besides id_type/id_number, the key).
PERSON_FIELDS = (
    "name",
    "name_key",
    "name_pinyin",
    "name_initials",
    "sex",
    "birth_date",
    "phone",
    "phone_reversed",
    "address",
    "notes",
    "region_code",
)
# Candidate.insert_values: the person's INSERT values after the id and the timestamps,
# up to region_code (which only the writing process knows).
INSERT_FIELDS: tuple[str, ...] = (
    "id_type",
    "id_number",
    "id_reversed",
    "phone_alt",
    "residence_status",
    *PERSON_FIELDS[:-1],
)
FIRST_PERSON_FIELD = INSERT_FIELDS.index("name")
_NAME_KEY = INSERT_FIELDS.index("name_key")


@dataclass(slots=True)
class Candidate:
    """A checked row. It crosses from the checking process to the writing one, so it is
    kept lean: the row's number and a reference to its cells rather than the Row (the
    cells travel as bytes, in the batch's ``BatchCells``), and the person as the tuple that
    will be inserted rather than a dict (the pickling of 100,000 dicts cost the writing
    process about 0.2 s)."""

    number: int
    cells_of: BatchCells  # the batch's cells; this row's are ``cells_of.get(cells_index)``
    cells_index: int
    id_type: str
    id_number: str
    # INSERT_FIELDS' values, dates as the database takes them (bulk.date_adapter).
    insert_values: tuple[Any, ...]
    returnee: tuple[dt.date, str, str, str] | None  # (arrival, origin, transport, risk)
    groups: list[int]
    # Who this is: (id_type, id_number); without a document (name key, birth date or
    # phone), to which ``RowChecker.place`` adds the region in front.
    key: tuple[Any, ...]
    village: Any  # the village cell: matched by ``place``, which needs the database
    fingerprint: int  # of the row's cells (core.importing.fingerprints), stored with the person
    region: str = ""  # set by ``place``

    def __reduce__(self) -> tuple[Any, ...]:
        # Plain arguments instead of dataclass state: a checked batch is pickled whole.
        return (
            Candidate,
            (
                self.number,
                self.cells_of,
                self.cells_index,
                self.id_type,
                self.id_number,
                self.insert_values,
                self.returnee,
                self.groups,
                self.key,
                self.village,
                self.fingerprint,
                self.region,
            ),
        )

    def row(self) -> Row:
        return Row(self.number, {}, self.cells_of.get(self.cells_index))

    @property
    def name_key(self) -> str:
        return str(self.insert_values[_NAME_KEY])

    def filled(self) -> dict[str, Any]:
        """The PERSON_FIELDS the row fills (blank cells left out), as Python values."""
        fields = PERSON_FIELDS[:-1]
        filled = {
            name: value
            for name, value in zip(fields, self.insert_values[FIRST_PERSON_FIELD:], strict=True)
            if value not in _NO_TEXT
        }
        if "birth_date" in filled:
            filled["birth_date"] = as_date(filled["birth_date"])
        filled["region_code"] = self.region
        return filled


@dataclass
class RowChecker:
    """Checks rows for an import into ``region_code`` by ``actor`` (None: the system)."""

    actor: Any
    region_code: str = ""
    _codes: list[str] | None = None
    _villages: dict[Any, tuple[bool, str]] = field(default_factory=dict)
    _groups: dict[str, int] = field(default_factory=dict)
    _group_cache: dict[str, tuple[bool, list[int] | str]] = field(default_factory=dict)
    _names: dict[Any, tuple[str, str, str, str] | str] = field(default_factory=dict)
    _risks: dict[Any, tuple[bool, str]] = field(default_factory=dict)
    _texts: cells.TextCache = field(default_factory=dict)
    # How dates are written on this database, decided once (per value it cost ~1 s/100k).
    _db_date: Callable[[dt.date | None], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._db_date = date_adapter()
        self._codes = scope_codes(self.actor, Perm.IMPORT_PEOPLE) if self.actor else None
        if self._codes is not None and not self._codes:
            raise PermissionDenied(_("You may not import people."))
        if self.region_code and not self.in_scope(self.region_code):
            raise PermissionDenied(_("You may not import people into this region."))
        if not self.region_code and self._codes is not None and len(self._codes) == 1:
            self.region_code = self._codes[0]
        for group in KeyGroup.objects.filter(active=True).only("id", "code", "name"):
            self._groups[cells.word(group.name)] = group.pk
            self._groups[cells.word(group.code)] = group.pk

    def in_scope(self, code: str) -> bool:
        if self._codes is None:
            return True
        return any(code.startswith(prefix) for prefix in self._codes)

    # -- the row -------------------------------------------------------------------------

    def clean_row(
        self, row: Row, cells_of: BatchCells, pickled: bytes, fingerprint: int
    ) -> Candidate:
        """The row's candidate (RowError or ValidationError if it is rejected); its cells
        (``pickled``) are kept in ``cells_of``, the batch's."""
        values = row.values
        get = values.get
        raw_name = get("name")
        facts = self._names.get(raw_name)
        if facts is None:
            facts = cells.name_facts(raw_name)
            if len(self._names) < 200_000:
                self._names[raw_name] = facts
        if isinstance(facts, str):
            raise RowError(facts)
        name, key, pinyin, initials = facts
        id_type, id_number, birth, sex = self._identity(get("id_type"), get("id_number"))
        if not sex:
            raw_sex = get("sex")
            if raw_sex not in _NO_TEXT:
                sex = SEX_WORDS.get(cells.word(cell_text(raw_sex)), "")
        if birth is None:
            raw_birth = get("birth_date")
            if raw_birth not in _NO_TEXT:
                birth = cells.date(raw_birth, cells.BIRTH_DATE)
        phone = cells.phone(get("phone"))
        address = cells.text(get("address"), 200, "address")
        notes = cells.text(get("notes"), 2000, "notes")
        arrival, origin = get("arrival_date"), get("origin")
        returnee = (
            None
            if arrival in _NO_TEXT and origin in _NO_TEXT
            else self._returnee(arrival, origin, values)
        )
        raw_groups = get("key_group")
        groups = [] if raw_groups in _NO_TEXT else self._key_groups(raw_groups)
        if id_number:
            identity: tuple[Any, ...] = (id_type, id_number)
        else:
            identity = (key, birth or phone or "")
        insert_values = (
            id_type,
            id_number,
            id_number[::-1],
            "",
            "resident",
            name,
            key,
            pinyin,
            initials,
            sex or "",
            self._db_date(birth),
            phone,
            phone[::-1],
            address,
            notes,
        )
        return Candidate(
            row.number,
            cells_of,
            cells_of.add(pickled),
            id_type,
            id_number,
            insert_values,
            returnee,
            groups,
            identity,
            get("village"),
            fingerprint,
        )

    def place(self, candidate: Candidate) -> None:
        """Match the candidate's village (RowError if it cannot be placed) and complete
        its key. Runs in the writing process: matching a village reads the database."""
        region = self._village(candidate.village)
        candidate.region = region
        if not candidate.id_number:
            candidate.key = (region, *candidate.key)

    # -- identity ------------------------------------------------------------------------

    def _identity(self, raw_type: Any, raw_number: Any) -> tuple[str, str, dt.date | None, str]:
        """(id_type, number, birth date and sex read from the number)."""
        if (raw_type is None or raw_type == "") and isinstance(raw_number, str):
            fast = cells.mainland_fast(raw_number)
            if fast is not None:
                return MAINLAND, *fast
        type_text = cells.word(cell_text(raw_type))
        id_type = ID_TYPE_WORDS.get(type_text, "") if type_text else ""
        if type_text and not id_type:
            id_type = next((t.value for t in IdType if cells.word(str(t.label)) == type_text), "")
            if not id_type and type_text in {t.value for t in IdType}:
                id_type = type_text
            if not id_type:
                raise RowError(_("Unknown document type “%(type)s”.") % {"type": type_text[:20]})
        if raw_number is None or raw_number == "":
            if id_type and id_type != IdType.NONE:
                raise RowError(_("The document number is missing."))
            return NO_DOCUMENT, "", None, ""
        lost = isinstance(raw_number, (int, float)) and not isinstance(raw_number, bool)
        if (
            (lost and raw_number >= 1e14)
            or looks_like_lost_digits(raw_number)
            or (isinstance(raw_number, str) and _SCIENTIFIC.match(nfkc(raw_number)))
        ):
            # Excel kept only about 15 significant digits: whatever is left is not the ID.
            raise RowError(
                _(
                    "The ID was stored by Excel as a number and lost its last digits; "
                    "format the column as text and enter it again."
                )
            )
        text = raw_number if isinstance(raw_number, str) else cell_text(raw_number)
        if not id_type:
            number = text.strip().upper()
            if len(number) == 18:
                id_type = MAINLAND
            else:
                number = normalize_number(text)
                digits = number.rstrip("X").isdigit()
                if len(number) == 15 and number.isdigit():
                    id_type = LEGACY15
                elif len(number) == 18 or (digits and len(number) >= 12):
                    # A long run of digits is a mistyped mainland ID, not a passport.
                    id_type = MAINLAND
                else:
                    id_type = PASSPORT
        try:
            if id_type == IdType.MAINLAND:
                return id_type, *cells.mainland(text)
            if id_type == IdType.LEGACY15:
                parsed = parse_legacy15(text)
                return id_type, parsed.number, parsed.birth_date, parsed.sex
            if id_type == IdType.NONE:
                return id_type, "", None, ""
            return id_type, clean_other_document(text), None, ""
        except IdError as exc:
            raise RowError(str(exc)) from None

    # -- village -------------------------------------------------------------------------

    def _village(self, raw: Any) -> str:
        cached = self._villages.get(raw)
        if cached is None:
            cached = self._village_of(raw)
            self._villages[raw] = cached
        if not cached[0]:
            raise RowError(cached[1])
        return cached[1]

    def _village_of(self, raw: Any) -> tuple[bool, str]:
        text = cell_text(raw)
        if not text:
            if self.region_code and level_of(self.region_code) >= Level.VILLAGE:
                return True, self.region_code
            return False, _("Fill in the village (所属村), or import into one village.")
        from fangkong.geo.names import match_region

        region = match_region(text, within=self.region_code or None, level=Level.VILLAGE)
        if region is not None:
            if not self.in_scope(region.code):
                return False, _("The village “%(name)s” is outside your jurisdiction.") % {
                    "name": text[:40]
                }
            return True, region.code
        wider = self.region_code[:6] if len(self.region_code) > 6 else ""
        if wider and match_region(text, within=wider, level=Level.VILLAGE) is not None:
            return False, _("The village “%(name)s” is not in the region being imported into.") % {
                "name": text[:40]
            }
        return False, _(
            "No single village named “%(name)s” was found in the region being imported into."
        ) % {"name": text[:40]}

    # -- returns and key groups ----------------------------------------------------------

    def _returnee(
        self, arrival_raw: Any, origin_raw: Any, values: dict[str, Any]
    ) -> tuple[dt.date, str, str, str]:
        arrival = cells.date(arrival_raw, cells.ARRIVAL_DATE)
        origin = cells.text(origin_raw, 100, "origin", self._texts)
        if arrival is None or not origin:
            raise RowError(_("A return needs both the arrival date and the origin."))
        transport = cells.text(values.get("transport"), 100, "transport", self._texts)
        raw_risk = values.get("origin_risk")
        if raw_risk in _NO_TEXT:
            return arrival, origin, transport, ""
        risk = self._risks.get(raw_risk)
        if risk is None:
            risk_text = cells.word(cell_text(raw_risk))
            found = RISK_WORDS.get(risk_text, "")
            if risk_text and not found:
                risk = (
                    False,
                    _("Unknown risk level “%(level)s” (use 高, 中 or 低).")
                    % {"level": risk_text[:20]},
                )
            else:
                risk = (True, str(found))
            self._risks[raw_risk] = risk
        if not risk[0]:
            raise RowError(risk[1])
        return arrival, origin, transport, risk[1]

    def _key_groups(self, raw: Any) -> list[int]:
        # A ledger repeats a handful of values: each is looked up once.
        cached = self._group_cache.get(raw)
        if cached is None:
            try:
                cached = (True, self._parse_groups(cell_text(raw)))
            except RowError as exc:
                cached = (False, str(exc))
            self._group_cache[raw] = cached
        ok, found = cached
        if not ok or isinstance(found, str):
            raise RowError(str(found))
        return list(found)

    def _parse_groups(self, text: str) -> list[int]:
        found: list[int] = []
        for part in _GROUP_SEPARATORS.split(text):
            name = cells.word(part)
            if not name:
                continue
            group = self._groups.get(name)
            if group is None:
                raise RowError(_("Unknown key group “%(name)s”.") % {"name": part.strip()[:30]})
            if group not in found:
                found.append(group)
        return found
