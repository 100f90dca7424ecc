from django.urls import include, path

from fangkong.people import keygroup_views, views

app_name = "people"

urlpatterns: list = [
    path("", views.person_list, name="person_list"),
    path("search/", views.person_search, name="person_search"),
    path("export/", views.person_export, name="person_export"),
    path("new/", views.person_create, name="person_create"),
    path("bulk-tag/", views.bulk_tag, name="bulk_tag"),
    path("<int:pk>/", views.person_detail, name="person_detail"),
    path("<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("<int:pk>/tags/", views.person_tag, name="person_tag"),
    path("<int:pk>/tags/<str:code>/remove/", views.person_untag, name="person_untag"),
    path("<int:pk>/returns/", views.person_add_return, name="person_add_return"),
    path("<int:pk>/household/", views.household_create, name="household_create"),
    path("<int:pk>/merge/", views.person_merge, name="person_merge"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("import/", include("fangkong.people.import_urls")),
    path("key-groups/", keygroup_views.key_group_list, name="key_group_list"),
    path("key-groups/new/", keygroup_views.key_group_create, name="key_group_create"),
    path("key-groups/<int:pk>/edit/", keygroup_views.key_group_edit, name="key_group_edit"),
    path(
        "key-groups/<int:pk>/active/",
        keygroup_views.key_group_set_active,
        name="key_group_set_active",
    ),
]
