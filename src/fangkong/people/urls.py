from django.urls import include, path

app_name = "people"

urlpatterns: list = [
    path("import/", include("fangkong.people.import_urls")),
]
