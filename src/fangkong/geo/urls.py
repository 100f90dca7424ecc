from django.urls import path

from fangkong.geo import views

app_name = "geo"

urlpatterns = [
    path("regions/", views.region_list, name="region_list"),
    path("sites/", views.site_list, name="site_list"),
]
