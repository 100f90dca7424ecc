from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "fangkong.core"
    label = "core"
    verbose_name = _("Core")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.core import checks  # noqa: F401  (registers system checks)
