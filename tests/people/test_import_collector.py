"""The import pauses Python's cyclic collector, and a rejected row keeps nothing alive.

core.importing.runner.collector_paused switches the collector off while rows stream
(an import's batches otherwise pay for collection after collection); the people importer
drops the tracebacks of handled rejections, since a Django ValidationError refers to
itself and its traceback's frames would hold the whole batch until a collection.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from fangkong.core.importing.runner import Row, collector_paused
from fangkong.people.importing.cells import RowError
from fangkong.people.importing.importer import PeopleImporter, drop_tracebacks
from fangkong.people.models import Person
from tests.conftest import GAOZHUANG
from tests.people.import_files import make_id, run, write_xlsx

pytestmark = pytest.mark.django_db


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer one decides
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def _raise_from_validation() -> None:
    try:
        raise ValidationError("bad phone")
    except ValidationError as exc:
        raise RowError(" ".join(exc.messages)) from None


def test_drop_tracebacks_clears_the_chain() -> None:
    try:
        _raise_from_validation()
    except RowError as exc:
        assert exc.__traceback__ is not None
        assert exc.__context__ is not None and exc.__context__.__traceback__ is not None
        drop_tracebacks(exc)
        assert exc.__traceback__ is None
        assert exc.__context__.__traceback__ is None


class _Cell:
    """A cell value that can be watched with a weak reference (rows have slots)."""


def test_rejected_rows_do_not_keep_their_batch_alive(regions: Any) -> None:
    importer = PeopleImporter(actor=None, region_code=GAOZHUANG, dry_run=True)
    importer.prepare({})
    values = [
        {"name": "张三", "id_number": make_id(seq=1), "phone": "12", "village": "蒋台屯"},
        {"name": "李四", "id_number": "123", "village": "蒋台屯"},
        {"name": "王五", "id_number": make_id(seq=3), "village": "蒋台屯"},
    ]
    cells = [_Cell() for _ in values]
    batch = [
        Row(number=n + 2, values=v, cells=[c])
        for n, (v, c) in enumerate(zip(values, cells, strict=True))
    ]
    watched = [weakref.ref(cell) for cell in cells]
    del cells
    with collector_paused():
        rejections = importer.process(batch)
        assert [r.row.number for r in rejections] == [2, 3]
        del rejections, batch
        # Freed by reference counting alone: no traceback's frames hold the batch.
        assert [ref() for ref in watched] == [None, None, None]


def test_an_import_with_bad_rows_imports_the_good_ones(regions: Any, tmp_path: Path) -> None:
    rows = [
        [
            n,
            f"测试{n}",
            make_id(seq=n),
            "12" if n % 3 == 0 else "13800138000",
            "蒋台屯村",
            "",
            None,
            None,
        ]
        for n in range(1, 31)
    ]
    summary = run(write_xlsx(tmp_path / "ledger.xlsx", rows))
    assert summary["created"] == 20 and summary["rejected"] == 10
    assert Person.objects.count() == 20
    assert gc.isenabled()
