from django.urls import path

from fangkong.people import import_views

# Included under people/import/ in the "people" namespace.
urlpatterns = [
    path("", import_views.import_upload, name="import_upload"),
    path("<str:token>/", import_views.import_preview, name="import_preview"),
]
