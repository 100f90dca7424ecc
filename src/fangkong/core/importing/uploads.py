"""Keeping an uploaded file for an import: size-checked, under MEDIA_ROOT/imports/<uuid>/."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

_UNSAFE = re.compile(r"[^\w.\-]+")
ALLOWED_SUFFIXES = (".xlsx", ".xls", ".ods", ".csv", ".txt")


class UploadTooLarge(ValueError):
    pass


def max_upload_bytes() -> int:
    return int(settings.MAX_UPLOAD_BYTES)


def too_large_message(size: int) -> str:
    return _(
        "The file is %(size).1f MB; the limit is %(limit)d MB. Split the ledger into "
        "smaller files (for example one per village)."
    ) % {"size": size / 1024 / 1024, "limit": max_upload_bytes() // 1024 // 1024}


def imports_dir() -> Path:
    return (Path(settings.MEDIA_ROOT) / "imports").resolve()


def save_upload(upload: Any, meta: dict[str, Any] | None = None) -> tuple[str, Path]:
    """Store a Django UploadedFile as imports/<token>/upload<suffix>, with ``meta`` (who
    uploaded it, the original name...) beside it; returns (token, path).
    Raises UploadTooLarge."""
    size = int(getattr(upload, "size", 0) or 0)
    if size > max_upload_bytes():
        raise UploadTooLarge(too_large_message(size))
    token = uuid.uuid4().hex
    name = _UNSAFE.sub("_", Path(str(upload.name or "upload")).name).lstrip(".") or "upload"
    folder = imports_dir() / token
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(name).suffix.lower()
    path = folder / f"upload{suffix if suffix in ALLOWED_SUFFIXES else ''}"
    (folder / "meta.json").write_text(
        json.dumps({"filename": name[:100], **(meta or {})}), encoding="utf-8"
    )
    written = 0
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            written += len(chunk)
            if written > max_upload_bytes():
                handle.close()
                path.unlink(missing_ok=True)
                raise UploadTooLarge(too_large_message(written))
            handle.write(chunk)
    return token, path


def upload_path(token: str) -> Path | None:
    """The stored file of an upload token, or None (tokens are 32 hex characters)."""
    if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        return None
    folder = imports_dir() / token
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.glob("upload*") if p.is_file())
    return files[0] if files else None


def upload_meta(token: str) -> dict[str, Any]:
    path = upload_path(token)
    if path is None:
        return {}
    try:
        data = json.loads((path.parent / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
