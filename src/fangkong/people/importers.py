"""Importing people ledgers (人员台账导入): the people side of core.importing.

This module is the bulk write path of people (the importer's action): each batch is
checked row by row, then written in one transaction with plain executemany/COPY; every
updated person gets an audit entry with before and after, and the import as a whole one
"people.import" entry with the counts. New persons are listed in that summary only.

Matching (re-importing the same file changes nothing):
- a person with a document is the same person when (id_type, id_number) match;
- without a document, when region, simplified name and birth date (or phone) match.
A second row for the same person inside one file is rejected, naming the first row
(rows are never silently merged: the user sees which one went in).

Scope: only people within the actor's IMPORT_PEOPLE scope are written. A row for a
village outside it is rejected; so is a row whose ID belongs to a person outside it,
without saying anything about that person.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_phone, clean_text, nfkc
from fangkong.core.importing import bulk
from fangkong.core.importing.headers import FieldSpec, ImportSchema
from fangkong.core.importing.runner import Rejection, Row
from fangkong.core.importing.values import cell_text, parse_date
from fangkong.core.regioncodes import Level, level_of
from fangkong.core.scoping import scope_codes
from fangkong.people.identity import (
    IdError,
    IdType,
    Sex,
    clean_other_document,
    looks_like_lost_digits,
    normalize_number,
    parse_legacy15,
    parse_mainland,
)
from fangkong.people.models import KeyGroup, OriginRisk, Person, PersonTag, ReturneeRecord
from fangkong.people.names import clean_name, name_keys

JOB_KIND = "people.import"

PEOPLE_SCHEMA = ImportSchema(
    [
        FieldSpec("name", gettext_lazy("Name"), ("姓名", "名字", "人员姓名", "name"), True),
        FieldSpec("id_type", gettext_lazy("Document type"), ("证件类型", "document type")),
        FieldSpec(
            "id_number",
            gettext_lazy("Document number"),
            (
                "身份证号",
                "身份证号码",
                "身份证",
                "公民身份号码",
                "证件号码",
                "证件号",
                "id number",
                "id",
            ),
        ),
        FieldSpec("sex", gettext_lazy("Sex"), ("性别", "sex", "gender")),
        FieldSpec("birth_date", gettext_lazy("Birth date"), ("出生日期", "出生年月", "birth date")),
        FieldSpec(
            "phone",
            gettext_lazy("Phone"),
            ("联系电话", "手机号", "手机号码", "电话", "联系方式", "phone", "mobile"),
        ),
        FieldSpec(
            "address",
            gettext_lazy("Address"),
            ("住址", "现住址", "家庭住址", "详细地址", "居住地址", "address"),
        ),
        FieldSpec(
            "village",
            gettext_lazy("Village"),
            ("所属村", "村(社区)", "所属村(社区)", "村社区", "村", "村庄", "社区", "village"),
        ),
        FieldSpec("notes", gettext_lazy("Notes"), ("备注", "notes", "note")),
        FieldSpec(
            "arrival_date",
            gettext_lazy("Arrival date"),
            ("返乡日期", "返回日期", "到达日期", "抵达日期", "返乡时间", "arrival date"),
        ),
        FieldSpec(
            "origin",
            gettext_lazy("Origin"),
            ("来源地", "从何地返回", "从何地返乡", "返回地", "出发地", "origin"),
        ),
        FieldSpec("transport", gettext_lazy("Transport"), ("交通方式", "交通工具", "transport")),
        FieldSpec(
            "origin_risk",
            gettext_lazy("Risk level of the origin"),
            ("来源地风险等级", "风险等级", "origin risk"),
        ),
        FieldSpec(
            "key_group",
            gettext_lazy("Key group"),
            ("人员类别", "重点人群", "人员分类", "key group"),
        ),
    ]
)

ID_TYPE_WORDS = {
    "身份证": IdType.MAINLAND,
    "居民身份证": IdType.MAINLAND,
    "二代身份证": IdType.MAINLAND,
    "mainland": IdType.MAINLAND,
    "一代身份证": IdType.LEGACY15,
    "护照": IdType.PASSPORT,
    "passport": IdType.PASSPORT,
    "港澳通行证": IdType.HK_MACAU,
    "港澳居民来往内地通行证": IdType.HK_MACAU,
    "回乡证": IdType.HK_MACAU,
    "台胞证": IdType.TAIWAN,
    "台湾居民来往大陆通行证": IdType.TAIWAN,
    "户口簿": IdType.HOUSEHOLD,
    "户口本": IdType.HOUSEHOLD,
    "无": IdType.NONE,
    "无证件": IdType.NONE,
}
SEX_WORDS = {"男": Sex.MALE, "女": Sex.FEMALE, "m": Sex.MALE, "f": Sex.FEMALE}
RISK_WORDS = {
    "高": OriginRisk.HIGH,
    "高风险": OriginRisk.HIGH,
    "高风险地区": OriginRisk.HIGH,
    "high": OriginRisk.HIGH,
    "中": OriginRisk.MEDIUM,
    "中风险": OriginRisk.MEDIUM,
    "中风险地区": OriginRisk.MEDIUM,
    "medium": OriginRisk.MEDIUM,
    "低": OriginRisk.LOW,
    "低风险": OriginRisk.LOW,
    "低风险地区": OriginRisk.LOW,
    "low": OriginRisk.LOW,
}
FORMULA_START = ("=", "+", "@")
# Lazy: translated only when a message is built (a gettext call per row costs ~10 µs).
BIRTH_DATE = gettext_lazy("birth date")
ARRIVAL_DATE = gettext_lazy("arrival date")
_MAINLAND_FAST = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d takes ４ too
# "4.10522E+17" as typed or pasted (identity.looks_like_lost_digits strips the dot first).
_SCIENTIFIC = re.compile(r"^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$")
_MOBILE_FAST = re.compile(r"^1[3-9][0-9]{9}$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

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
INSERT_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "id_type",
    "id_number",
    "id_reversed",
    "phone_alt",
    "residence_status",
    *PERSON_FIELDS,
)
RETURN_COLUMNS = (
    "region_code",
    "created_at",
    "updated_at",
    "person_id",
    "origin",
    "arrival_date",
    "transport",
    "origin_risk",
    "note",
)
TAG_COLUMNS = ("region_code", "created_at", "updated_at", "person_id", "group_id", "note")


class RowError(ValueError):
    """Why a row is rejected (user-facing)."""


@dataclass
class Candidate:
    row: Row
    id_type: str
    id_number: str
    values: dict[str, Any]  # PERSON_FIELDS that the row fills (blank cells left out)
    returnee: tuple[dt.date, str, str, str] | None  # (arrival, origin, transport, risk)
    groups: list[int]
    key: tuple[Any, ...]


@dataclass
class PeopleImporter:
    """One import run. ``region_code`` is the chosen region; ``actor`` None is the system."""

    actor: Any
    region_code: str = ""
    dry_run: bool = False
    filename: str = ""
    schema: ImportSchema = field(default_factory=lambda: PEOPLE_SCHEMA)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    _codes: list[str] | None = None
    _villages: dict[str, str | RowError] = field(default_factory=dict)
    _seen: dict[tuple[Any, ...], int] = field(default_factory=dict)
    _groups: dict[str, int] = field(default_factory=dict)
    _group_cache: dict[str, list[int] | RowError] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._codes = scope_codes(self.actor, Perm.IMPORT_PEOPLE) if self.actor else None
        if self._codes is not None and not self._codes:
            raise PermissionDenied(_("You may not import people."))
        if self.region_code and not self.in_scope(self.region_code):
            raise PermissionDenied(_("You may not import people into this region."))
        if not self.region_code and self._codes is not None and len(self._codes) == 1:
            self.region_code = self._codes[0]
        for group in KeyGroup.objects.filter(active=True).only("id", "code", "name"):
            self._groups[_word(group.name)] = group.pk
            self._groups[_word(group.code)] = group.pk

    # -- scope ---------------------------------------------------------------------------

    def in_scope(self, code: str) -> bool:
        if self._codes is None:
            return True
        return any(code.startswith(prefix) for prefix in self._codes)

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}

    # -- one row -------------------------------------------------------------------------

    def _village(self, raw: Any) -> str:
        text = cell_text(raw)
        if not text:
            if self.region_code and level_of(self.region_code) >= Level.VILLAGE:
                return self.region_code
            raise RowError(_("Fill in the village (所属村), or import into one village."))
        cached = self._villages.get(text)
        if cached is None:
            cached = self._match_village(text)
            self._villages[text] = cached
        if isinstance(cached, RowError):
            raise cached
        return cached

    def _match_village(self, text: str) -> str | RowError:
        from fangkong.geo.names import match_region

        region = match_region(text, within=self.region_code or None, level=Level.VILLAGE)
        if region is not None:
            if not self.in_scope(region.code):
                return RowError(
                    _("The village “%(name)s” is outside your jurisdiction.") % {"name": text[:40]}
                )
            return region.code
        wider = self.region_code[:6] if len(self.region_code) > 6 else ""
        if wider and match_region(text, within=wider, level=Level.VILLAGE) is not None:
            return RowError(
                _("The village “%(name)s” is not in the region being imported into.")
                % {"name": text[:40]}
            )
        return RowError(
            _("No single village named “%(name)s” was found in the region being imported into.")
            % {"name": text[:40]}
        )

    def _identity(self, raw_type: Any, raw_number: Any) -> tuple[str, str, dict[str, Any]]:
        """(id_type, number, facts from the number: birth_date, sex)."""
        if (raw_type is None or raw_type == "") and isinstance(raw_number, str):
            fast = _mainland_fast(raw_number)
            if fast is not None:
                return IdType.MAINLAND, *fast
        type_text = _word(cell_text(raw_type))
        id_type = ID_TYPE_WORDS.get(type_text, "") if type_text else ""
        if type_text and not id_type:
            id_type = next((t.value for t in IdType if _word(str(t.label)) == type_text), "")
            if not id_type and type_text in {t.value for t in IdType}:
                id_type = type_text
            if not id_type:
                raise RowError(_("Unknown document type “%(type)s”.") % {"type": type_text[:20]})
        if raw_number is None or raw_number == "":
            if id_type and id_type != IdType.NONE:
                raise RowError(_("The document number is missing."))
            return IdType.NONE, "", {}
        lost = isinstance(raw_number, (int, float)) and not isinstance(raw_number, bool)
        if (
            (lost and raw_number >= 1e14)
            or looks_like_lost_digits(raw_number)
            or (isinstance(raw_number, str) and _SCIENTIFIC.match(nfkc(raw_number)))
        ):
            # Excel kept only about 15 significant digits: whatever is left is not the ID.
            return IdType.MAINLAND, "", dict(_lost=True)
        text = raw_number if isinstance(raw_number, str) else cell_text(raw_number)
        if not id_type:
            number = text.strip().upper()
            if len(number) == 18:
                id_type = IdType.MAINLAND
            else:
                number = normalize_number(text)
                digits = number.rstrip("X").isdigit()
                if len(number) == 15 and number.isdigit():
                    id_type = IdType.LEGACY15
                elif len(number) == 18 or (digits and len(number) >= 12):
                    # A long run of digits is a mistyped mainland ID, not a passport.
                    id_type = IdType.MAINLAND
                else:
                    id_type = IdType.PASSPORT
        try:
            if id_type == IdType.MAINLAND:
                return id_type, *_mainland(text)
            if id_type == IdType.LEGACY15:
                parsed = parse_legacy15(text)
                return id_type, parsed.number, {"birth_date": parsed.birth_date, "sex": parsed.sex}
            if id_type == IdType.NONE:
                return id_type, "", {}
            return id_type, clean_other_document(text), {}
        except IdError as exc:
            raise RowError(str(exc)) from None

    def clean_row(self, row: Row) -> Candidate:
        values = row.values
        raw_name = values.get("name")
        name = (
            _clean_name(raw_name) if isinstance(raw_name, str) else clean_name(cell_text(raw_name))
        )
        if not name:
            raise RowError(_("The name is missing."))
        if name.startswith(FORMULA_START):
            raise RowError(_("The name looks like a spreadsheet formula."))
        if len(name) > 64:
            raise RowError(_("The name is longer than 64 characters."))
        if not name.isprintable():
            raise RowError(_("Remove the control characters from the name."))
        id_type, id_number, facts = self._identity(values.get("id_type"), values.get("id_number"))
        if facts.get("_lost"):
            raise RowError(
                _(
                    "The ID was stored by Excel as a number and lost its last digits; "
                    "format the column as text and enter it again."
                )
            )
        key, pinyin, initials = name_keys(name)
        person: dict[str, Any] = {
            "name": name,
            "name_key": key,
            "name_pinyin": pinyin[:128],
            "name_initials": initials[:32],
            "region_code": self._village(values.get("village")),
        }
        sex = facts.get("sex") or SEX_WORDS.get(_word(cell_text(values.get("sex"))), "")
        if sex:
            person["sex"] = sex
        birth = facts.get("birth_date")
        if birth is None and values.get("birth_date") not in (None, ""):
            birth = _date(values.get("birth_date"), BIRTH_DATE)
        if birth is not None:
            person["birth_date"] = birth
        phone = _phone(values.get("phone"))
        if phone:
            person["phone"] = phone
            person["phone_reversed"] = phone[::-1]
        for name_, limit in (("address", 200), ("notes", 2000)):
            text = _text(values.get(name_), limit, name_)
            if text:
                person[name_] = text
        returnee = self._returnee(values)
        groups = self._key_groups(values.get("key_group"))
        if id_number:
            identity: tuple[Any, ...] = (id_type, id_number)
        else:
            identity = (person["region_code"], key, birth or phone or "")
        return Candidate(row, id_type, id_number, person, returnee, groups, identity)

    def _returnee(self, values: dict[str, Any]) -> tuple[dt.date, str, str, str] | None:
        arrival_raw, origin_raw = values.get("arrival_date"), values.get("origin")
        if arrival_raw in (None, "") and origin_raw in (None, ""):
            return None
        arrival = _date(arrival_raw, ARRIVAL_DATE)
        origin = _text(origin_raw, 100, "origin")
        if arrival is None or not origin:
            raise RowError(_("A return needs both the arrival date and the origin."))
        transport = _text(values.get("transport"), 100, "transport")
        risk_text = _word(cell_text(values.get("origin_risk")))
        risk = RISK_WORDS.get(risk_text, "")
        if risk_text and not risk:
            raise RowError(
                _("Unknown risk level “%(level)s” (use 高, 中 or 低).") % {"level": risk_text[:20]}
            )
        return arrival, origin, transport, str(risk)

    def _key_groups(self, raw: Any) -> list[int]:
        text = cell_text(raw)
        if not text:
            return []
        # A ledger repeats a handful of values: look each up once.
        cached = self._group_cache.get(text)
        if cached is None:
            try:
                cached = self._parse_groups(text)
            except RowError as exc:
                cached = exc
            self._group_cache[text] = cached
        if isinstance(cached, RowError):
            raise cached
        return cached

    def _parse_groups(self, text: str) -> list[int]:
        found: list[int] = []
        for part in re.split(r"[,，、;；/]+", text):
            word = _word(part)
            if not word:
                continue
            group = self._groups.get(word)
            if group is None:
                raise RowError(_("Unknown key group “%(name)s”.") % {"name": part.strip()[:30]})
            if group not in found:
                found.append(group)
        return found

    # -- a batch ---------------------------------------------------------------------------

    def process(self, rows: list[Row]) -> list[Rejection]:
        rejections: list[Rejection] = []
        candidates: list[Candidate] = []
        for row in rows:
            try:
                candidate = self.clean_row(row)
            except RowError as exc:
                rejections.append(Rejection(row, str(exc)))
                continue
            except ValidationError as exc:
                rejections.append(Rejection(row, " ".join(exc.messages)))
                continue
            first = self._seen.get(candidate.key)
            if first is not None:
                rejections.append(
                    Rejection(
                        row,
                        _("The same person as row %(row)d of this file; this row was skipped.")
                        % {"row": first},
                    )
                )
                continue
            self._seen[candidate.key] = row.number
            candidates.append(candidate)
        if candidates:
            with transaction.atomic():
                rejections += self._write(candidates)
                if self.dry_run:
                    transaction.set_rollback(True)
        rejections.sort(key=lambda r: r.row.number)
        return rejections

    def _existing(self, candidates: list[Candidate]) -> dict[tuple[Any, ...], dict[str, Any]]:
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        columns = ["id", "id_type", "id_number", *PERSON_FIELDS]
        select = ", ".join(f'"{c}"' for c in columns)
        table = self._table(Person)
        birth_index = columns.index("birth_date")

        def as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
            values = list(row)
            values[birth_index] = bulk.as_date(values[birth_index])
            return dict(zip(columns, values, strict=True))

        by_type: dict[str, set[str]] = {}
        for c in candidates:
            if c.id_number:
                by_type.setdefault(c.id_type, set()).add(c.id_number)
        for id_type, wanted in by_type.items():
            # Written so the partial unique index (id_type, id_number) is used.
            sql = (
                f'SELECT {select} FROM "{table}" WHERE "id_type" = {{p}} AND "id_number" '  # noqa: S608
                'IN ({in}) AND NOT ("id_number" = \'\') AND "merged_into_id" IS NULL'
            )
            for row in bulk.select_in(sql, sorted(wanted), [id_type]):
                values = as_dict(row)
                found[(values["id_type"], values["id_number"])] = values
        loose = [c for c in candidates if not c.id_number]
        if loose:
            keys = sorted({c.values["name_key"] for c in loose})
            regions = {c.values["region_code"] for c in loose}
            sql = (
                f'SELECT {select} FROM "{table}" WHERE "name_key" IN ({{in}}) '  # noqa: S608
                'AND "id_number" = \'\' AND "merged_into_id" IS NULL'
            )
            for row in bulk.select_in(sql, keys):
                values = as_dict(row)
                if values["region_code"] not in regions:
                    continue
                # Keyed like Candidate.key: by birth date, by phone, or by name alone when
                # the ledger knew neither (so such a row is found again, not duplicated).
                seconds = [v for v in (values["birth_date"], values["phone"]) if v] or [""]
                for second in seconds:
                    found.setdefault((values["region_code"], values["name_key"], second), values)
        return found

    def _write(self, candidates: list[Candidate]) -> list[Rejection]:
        rejections: list[Rejection] = []
        existing = self._existing(candidates)
        now = timezone.now()
        new: list[Candidate] = []
        changed: list[tuple[Candidate, dict[str, Any], dict[str, Any]]] = []
        known: list[tuple[Candidate, int]] = []
        for candidate in candidates:
            current = existing.get(candidate.key)
            if current is None:
                new.append(candidate)
                continue
            if not self.in_scope(current["region_code"]):
                rejections.append(
                    Rejection(candidate.row, _("This ID is registered in another jurisdiction."))
                )
                continue
            before = {k: current[k] for k, v in candidate.values.items() if v not in ("", None)}
            after = {k: v for k, v in candidate.values.items() if v not in ("", None)}
            diff = {k for k in after if after[k] != before.get(k)}
            known.append((candidate, current["id"]))
            if diff:
                changed.append(
                    (
                        candidate,
                        {k: before.get(k) for k in sorted(diff)} | {"id": current["id"]},
                        {k: after[k] for k in sorted(diff)},
                    )
                )
        ids = bulk.allocate_ids(self._table(Person), len(new))
        person_ids = {id(c): pk for c, pk in zip(new, ids, strict=True)}
        person_ids.update({id(c): pk for c, pk in known})
        added = self._write_related(candidates, person_ids, {pk for _c, pk in known}, now)
        if not self.dry_run:
            self._insert_people(new, ids, now)
            self._update_people(changed, now)
        self.created += len(new)
        changed_ids = {before["id"] for _c, before, _a in changed}
        for _candidate, pk in known:
            if pk in changed_ids or pk in added:
                self.updated += 1
            else:
                self.unchanged += 1
        self._audit_updates(changed, added, {pk: c.values["region_code"] for c, pk in known})
        return rejections

    def _table(self, model: Any) -> str:
        return str(model._meta.db_table)

    def _insert_people(self, new: list[Candidate], ids: list[int], now: dt.datetime) -> None:
        stamp = bulk.db_datetime(now)
        rows = []
        for candidate, pk in zip(new, ids, strict=True):
            values = candidate.values
            rows.append(
                (
                    pk,
                    stamp,
                    stamp,
                    candidate.id_type,
                    candidate.id_number,
                    candidate.id_number[::-1],
                    "",
                    "resident",
                    values["name"],
                    values["name_key"],
                    values["name_pinyin"],
                    values["name_initials"],
                    values.get("sex", ""),
                    bulk.db_date(values.get("birth_date")),
                    values.get("phone", ""),
                    values.get("phone_reversed", ""),
                    values.get("address", ""),
                    values.get("notes", ""),
                    values["region_code"],
                )
            )
        bulk.insert_rows(self._table(Person), INSERT_COLUMNS, rows)

    def _update_people(
        self, changed: list[tuple[Candidate, dict[str, Any], dict[str, Any]]], now: dt.datetime
    ) -> None:
        # Grouped by the set of changed columns: one executemany per shape.
        shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        stamp = bulk.db_datetime(now)
        for _candidate, before, after in changed:
            columns = (*after.keys(), "updated_at")
            values = [bulk.db_date(v) if isinstance(v, dt.date) else v for v in after.values()]
            shapes.setdefault(columns, []).append((*values, stamp, before["id"]))
        for columns, rows in shapes.items():
            bulk.update_rows(self._table(Person), columns, rows)

    def _write_related(
        self,
        candidates: list[Candidate],
        person_ids: dict[int, int],
        known_ids: set[int],
        now: dt.datetime,
    ) -> dict[int, dict[str, Any]]:
        """Returns and key-group tags not stored yet; {person id: what was added} for
        people already known (their audit entries mention it)."""
        have_returns: set[tuple[int, dt.date, str]] = set()
        have_tags: set[tuple[int, int]] = set()
        known = sorted(known_ids)
        if known:
            returns_table, tags_table = self._table(ReturneeRecord), self._table(PersonTag)
            for pk, arrival, origin in bulk.select_in(
                f'SELECT "person_id", "arrival_date", "origin" FROM "{returns_table}" '  # noqa: S608
                'WHERE "person_id" IN ({in})',
                known,
            ):
                have_returns.add((pk, bulk.as_date(arrival), origin))  # type: ignore[arg-type]
            have_tags.update(
                bulk.select_in(
                    f'SELECT "person_id", "group_id" FROM "{tags_table}" '  # noqa: S608
                    'WHERE "person_id" IN ({in})',
                    known,
                )  # type: ignore[arg-type]
            )
        stamp = bulk.db_datetime(now)
        returns: list[tuple[Any, ...]] = []
        tags: list[tuple[Any, ...]] = []
        added: dict[int, dict[str, Any]] = {}
        for candidate in candidates:
            pk = person_ids.get(id(candidate))
            if pk is None:
                continue
            region = candidate.values["region_code"]
            if candidate.returnee is not None:
                arrival, origin, transport, risk = candidate.returnee
                if (pk, arrival, origin) not in have_returns:
                    have_returns.add((pk, arrival, origin))
                    returns.append(
                        (
                            region,
                            stamp,
                            stamp,
                            pk,
                            origin,
                            bulk.db_date(arrival),
                            transport,
                            risk,
                            "",
                        )
                    )
                    if pk in known_ids:
                        added.setdefault(pk, {})["return"] = f"{arrival.isoformat()} {origin}"
            for group in candidate.groups:
                if (pk, group) not in have_tags:
                    have_tags.add((pk, group))
                    tags.append((region, stamp, stamp, pk, group, ""))
                    if pk in known_ids:
                        added.setdefault(pk, {}).setdefault("groups", []).append(group)
        if not self.dry_run:
            bulk.insert_rows(self._table(ReturneeRecord), RETURN_COLUMNS, returns)
            bulk.insert_rows(self._table(PersonTag), TAG_COLUMNS, tags)
        return added

    def _audit_updates(
        self,
        changed: list[tuple[Candidate, dict[str, Any], dict[str, Any]]],
        added: dict[int, dict[str, Any]],
        regions: dict[int, str],
    ) -> None:
        """One entry per updated person: the changed fields before and after, plus the
        returns and key groups the import added."""
        if self.dry_run:
            return
        entries: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        for _candidate, before, after in changed:
            entries[before["id"]] = ({k: v for k, v in before.items() if k != "id"}, dict(after))
        for pk, extra in added.items():
            before, after = entries.get(pk, ({}, {}))
            entries[pk] = (before, {**after, **extra})
        for pk, (before, after) in entries.items():
            audit.record(
                self.actor,
                "people.import_update",
                object_type="people.person",
                object_id=str(pk),
                region_code=regions.get(pk, ""),
                before=before,
                after=after,
            )

    def record_summary(self, rejected: int, job_id: str = "") -> None:
        """The one audit entry of the whole import (not written for a dry run)."""
        if self.dry_run:
            return
        audit.record(
            self.actor,
            JOB_KIND,
            object_type="people.person",
            object_id=job_id,
            region_code=self.region_code,
            after={
                "file": self.filename,
                "created": self.created,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "rejected": rejected,
            },
        )


# -- small cleaners ------------------------------------------------------------------------


def _word(text: str) -> str:
    from fangkong.core.importing.headers import normalize_header

    return normalize_header(text) if text else ""


def _date(raw: Any, label: Any) -> dt.date | None:
    try:
        value = parse_date(raw)
    except (ValueError, OverflowError):
        raise RowError(
            _("The %(field)s “%(value)s” is not a date (write 2022-01-20).")
            % {"field": label, "value": cell_text(raw)[:20]}
        ) from None
    if value is not None and not dt.date(1880, 1, 1) <= value <= dt.date(2100, 12, 31):
        raise RowError(
            _("The %(field)s “%(value)s” is not a possible date.")
            % {"field": label, "value": value.isoformat()}
        )
    return value


def _phone(raw: Any) -> str:
    text = cell_text(raw)
    if not text:
        return ""
    if _MOBILE_FAST.match(text):
        return text
    try:
        return clean_phone(text)
    except ValidationError as exc:
        raise RowError(" ".join(exc.messages)) from None


def _text(raw: Any, limit: int, name: str) -> str:
    if raw is None or raw == "":
        return ""
    if (
        isinstance(raw, str)
        and len(raw) <= limit
        and raw.isprintable()
        and "  " not in raw
        and unicodedata.is_normalized("NFKC", raw)
    ):
        # The everyday cell needs none of clean_text's work (about 4 µs a cell saved).
        text = raw.strip()
    else:
        value = cell_text(raw) if not isinstance(raw, str) else raw
        try:
            text = clean_text(value, max_length=limit)
        except ValidationError as exc:
            label = PEOPLE_SCHEMA.spec(name).label
            raise RowError(f"{label}: {' '.join(exc.messages)}") from None
    if text.startswith(FORMULA_START):
        label = PEOPLE_SCHEMA.spec(name).label
        raise RowError(_("%(field)s looks like a spreadsheet formula.") % {"field": label})
    return text


_EARLIEST = dt.date(1880, 1, 1)


@lru_cache(maxsize=4)
def _today_cached(hour: int) -> dt.date:
    return dt.date.today()


def _today() -> dt.date:
    # date.today() per row is a system call; an import may run across midnight, so the
    # cache is keyed by the hour.
    import time

    return _today_cached(int(time.time() // 3600))


@lru_cache(maxsize=100_000)
def _clean_name(raw: str) -> str:
    return clean_name(raw)


def _mainland(text: str) -> tuple[str, dict[str, Any]]:
    """An 18-digit ID: the fast check, else parse_mainland (and its exact message)."""
    fast = _mainland_fast(text)
    if fast is not None:
        return fast
    parsed = parse_mainland(text)
    return parsed.number, {"birth_date": parsed.birth_date, "sex": parsed.sex}


def _mainland_fast(text: str) -> tuple[str, dict[str, Any]] | None:
    """The everyday 18-digit ID checked without the slower general parser; None for
    anything unusual (spaces, full-width digits, a wrong check digit, a bad date)."""
    number = text.upper()
    if _MAINLAND_FAST.match(number):
        total = sum(map(operator.mul, map(int, number[:17]), _WEIGHTS))
        if _CHECK[total % 11] == number[17]:
            try:
                birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            except ValueError:
                birth = None
            if birth is not None and _EARLIEST <= birth <= _today():
                sex = Sex.MALE if int(number[16]) % 2 else Sex.FEMALE
                return number, {"birth_date": birth, "sex": sex}
    return None


def import_people_file(
    path: Path,
    *,
    actor: Any,
    region_code: str = "",
    dry_run: bool = False,
    header_row: int | None = None,
    mapping: dict[int, str] | None = None,
    progress: Any = None,
    error_path: Path | None = None,
    job_id: str = "",
    filename: str = "",
) -> dict[str, Any]:
    """Import one file (the job handler and the tests call this); returns the summary."""
    from fangkong.core.importing.readers import open_table
    from fangkong.core.importing.runner import resolve_header, run_import

    importer = PeopleImporter(
        actor=actor, region_code=region_code, dry_run=dry_run, filename=filename or path.name
    )
    table = open_table(path)
    guess = resolve_header(table, PEOPLE_SCHEMA, header_row, mapping)
    result = run_import(
        table,
        importer,
        guess,
        progress=progress,
        error_path=error_path,
        reason_header=_("Error reason"),
    )
    importer.record_summary(result.rejected, job_id)
    summary = result.as_dict()
    summary["dry_run"] = dry_run
    if result.error_file is not None:
        summary["error_file"] = result.error_file.name
    return summary
