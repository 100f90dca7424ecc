from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GeoConfig(AppConfig):
    name = "fangkong.geo"
    label = "geo"
    verbose_name = _("Regions and sites")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.geo import tasks  # noqa: F401  (registers the divisions load job)
