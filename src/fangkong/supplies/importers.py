"""Receipts and issues from a spreadsheet (入库单/出库单导入): one file, one document.

A depot keeps its deliveries in a sheet: 物资, 数量, 单位/包装, 批号, 有效期, 备注. Each
row is checked on its own (item known, quantity a whole number, unit the item's base
unit or one of its packs, lot usable); the good rows become the lines of ONE document
posted through ``post_stock_document``, and the bad rows come back with the reason (and
in the error workbook). The file's content is the document's idempotency key, so
importing the same file twice posts it once (DESIGN rule 4).

Reading (UTF-8, UTF-8 with BOM, GB18030, xlsx/xls/ods; title rows above the header) is
``core.importing``'s.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.core.importing.errors import ErrorWorkbook
from fangkong.core.importing.headers import FieldSpec, ImportSchema
from fangkong.core.importing.readers import open_table
from fangkong.core.importing.runner import Rejection, Row, iter_rows, resolve_header
from fangkong.core.importing.values import cell_text, parse_date
from fangkong.supplies import ledger
from fangkong.supplies.actions.documents import LineInput, line_from_entry, post_stock_document
from fangkong.supplies.models import (
    DocumentKind,
    Item,
    Location,
    Pack,
    RecipientKind,
    StockDocument,
)

STOCK_SCHEMA = ImportSchema(
    [
        FieldSpec(
            "item",
            gettext_lazy("Item"),
            ("物资", "品名", "物资名称", "名称", "物资编码", "编码", "item", "item code", "code"),
            True,
        ),
        FieldSpec("quantity", gettext_lazy("Quantity"), ("数量", "quantity", "qty"), True),
        FieldSpec(
            "unit", gettext_lazy("Unit or pack"), ("单位", "包装", "计量单位", "unit", "pack")
        ),
        FieldSpec("lot", gettext_lazy("Lot"), ("批号", "批次", "批次号", "lot", "lot number")),
        FieldSpec(
            "expiry",
            gettext_lazy("Expiry date"),
            ("有效期", "有效期至", "失效日期", "expiry", "expiry date"),
        ),
        FieldSpec("note", gettext_lazy("Note"), ("备注", "说明", "note", "notes")),
    ]
)


@dataclass
class StockFileResult:
    """What a file gave: the posted document (None on a dry run), good lines, rejections."""

    kind: str
    lines: list[LineInput]
    rejections: list[Rejection]
    header: list[str]
    document: StockDocument | None = None
    already_posted: bool = False
    dry_run: bool = False
    error_file: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Catalogue:
    """Items by code and by name, read once per file; units and packs per item."""

    def __init__(self) -> None:
        self.by_code: dict[str, Item] = {}
        self.by_name: dict[str, list[Item]] = {}
        for item in Item.objects.filter(active=True):
            self.by_code[_key(item.code)] = item
            self.by_name.setdefault(_key(item.name), []).append(item)
            if item.specification:
                self.by_name.setdefault(_key(str(item)), []).append(item)
        self.packs: dict[int, dict[str, Pack]] = {}
        for pack in Pack.objects.all():
            self.packs.setdefault(pack.item_id, {})[_key(pack.name)] = pack

    def item(self, text: str) -> Item:
        key = _key(text)
        if not key:
            raise ValidationError(_("Enter the item (its code or name)."))
        found = self.by_code.get(key)
        if found is not None:
            return found
        named = self.by_name.get(key, [])
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ValidationError(
                _("Several items are called %(name)s; enter the item code instead (%(codes)s).")
                % {"name": text, "codes": ", ".join(sorted(i.code for i in named))}
            )
        raise ValidationError(_("No item %(name)s in the catalogue.") % {"name": text})

    def pack(self, item: Item, unit: str) -> Pack | None:
        """None for the base unit (or no unit given); the pack named ``unit`` otherwise."""
        key = _key(unit)
        if not key or key == _key(item.base_unit):
            return None
        pack = self.packs.get(item.pk, {}).get(key)
        if pack is None:
            names = [item.base_unit, *(p.name for p in self.packs.get(item.pk, {}).values())]
            raise ValidationError(
                _("%(item)s is counted in %(units)s, not %(unit)s.")
                % {"item": item, "units": " / ".join(names), "unit": unit}
            )
        return pack


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def _reason(exc: ValidationError) -> str:
    return " ".join(str(message) for message in exc.messages)


def check_row(row: Row, *, kind: str, catalogue: Catalogue) -> LineInput:
    """One row as a line; ValidationError with the reason when it is not good."""
    values = row.values
    item = catalogue.item(cell_text(values.get("item")))
    pack = catalogue.pack(item, cell_text(values.get("unit")))
    quantity = values.get("quantity")
    if quantity is None or cell_text(quantity) == "":
        raise ValidationError(_("Enter a quantity."))
    try:
        expiry = parse_date(values.get("expiry"))
    except ValueError:
        raise ValidationError(
            _("%(value)s is not a date.") % {"value": cell_text(values.get("expiry"))}
        ) from None
    line = line_from_entry(
        kind=kind,
        item=item,
        pack=pack,
        pack_count=quantity if pack is not None else None,
        units=None if pack is not None else quantity,
        lot_code=cell_text(values.get("lot")),
        expiry_date=expiry if kind == DocumentKind.RECEIPT else None,
        note=cell_text(values.get("note")),
    )
    # A blocked or expired lot fails only its row, not the whole document.
    ledger.check_lots_for(kind, [line.lot])
    return line


def file_key(path: Path, kind: str, location: Location) -> str:
    """The idempotency key of a file posted at a location: same bytes, same document."""
    digest = hashlib.sha256()
    digest.update(f"{kind}:{location.pk}:".encode())
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"file:{digest.hexdigest()[:56]}"


def post_stock_file(
    path: Path,
    *,
    kind: str,
    location: Location,
    actor: Any = None,
    dry_run: bool = False,
    recipient: str = "",
    receipt_source: str = "purchase",
    supplier: str = "",
    error_path: Path | None = None,
) -> StockFileResult:
    """Check every row of ``path`` and post the good ones as one receipt or issue.

    Raises ImportFileError when the file cannot be read or has no header, and whatever
    ``post_stock_document`` raises (``InsufficientStock`` for an issue: nothing is posted).
    """
    if kind not in (DocumentKind.RECEIPT, DocumentKind.ISSUE):
        raise ValueError(kind)
    table = open_table(path)
    guess = resolve_header(table, STOCK_SCHEMA)
    catalogue = Catalogue()
    result = StockFileResult(
        kind=kind, lines=[], rejections=[], header=guess.header, dry_run=dry_run
    )
    # A dry run may not even leave the lots a receipt would create.
    with transaction.atomic():
        for row in iter_rows(table, guess):
            try:
                result.lines.append(check_row(row, kind=kind, catalogue=catalogue))
            except ValidationError as exc:
                result.rejections.append(Rejection(row, _reason(exc)))
        if dry_run:
            transaction.set_rollback(True)
    if error_path is not None and result.rejections:
        workbook = ErrorWorkbook(error_path, guess.header, _("Error reason"))
        try:
            for rejection in result.rejections:
                workbook.add(rejection.row.cells, rejection.reason)
        finally:
            workbook.close()
        result.error_file = error_path
    if dry_run or not result.lines:
        return result
    key = file_key(path, kind, location)
    result.already_posted = StockDocument.objects.filter(idempotency_key=key).exists()
    common: dict[str, Any] = {"actor": actor, "lines": result.lines, "idempotency_key": key}
    if kind == DocumentKind.RECEIPT:
        result.document = post_stock_document(
            kind=kind,
            destination=location,
            receipt_source=receipt_source,
            supplier=supplier,
            note=_("Imported from %(file)s") % {"file": path.name},
            **common,
        )
    else:
        result.document = post_stock_document(
            kind=kind,
            source=location,
            recipient_kind=RecipientKind.OTHER if recipient else "",
            recipient_name=recipient,
            note=_("Imported from %(file)s") % {"file": path.name},
            **common,
        )
    return result
