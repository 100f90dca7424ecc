"""System checks run by `fangkong check`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register()
def data_dir_writable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    import os

    if not os.access(settings.DATA_DIR, os.W_OK):
        return [Warning(f"data dir {settings.DATA_DIR} is not writable", id="fangkong.W001")]
    return []


@register()
def debug_off(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG:
        return [
            Warning(
                "FANGKONG_DEBUG is on: error pages show internals; turn it off in service",
                id="fangkong.W002",
            )
        ]
    return []
