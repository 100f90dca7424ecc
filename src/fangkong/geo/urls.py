from django.urls import path

from fangkong.geo import views

app_name = "geo"

urlpatterns = [
    path("regions/", views.region_list, name="region_list"),
    path("regions/search/", views.region_search, name="region_search"),
    path("regions/<str:code>/", views.region_detail, name="region_detail"),
    path("regions/<str:code>/groups/", views.village_group_add, name="village_group_add"),
    path("sites/", views.site_list, name="site_list"),
    path("sites/export/", views.site_export, name="site_export"),
    path("sites/new/", views.site_create, name="site_create"),
    path("sites/<int:pk>/", views.site_detail, name="site_detail"),
    path("sites/<int:pk>/edit/", views.site_edit, name="site_edit"),
    path("sites/<int:pk>/active/", views.site_set_active, name="site_set_active"),
]
