from django.contrib.auth import views as auth_views
from django.urls import path

from fangkong.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_detail, name="user_detail"),
    path("users/<int:pk>/edit/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/assignments/new/", views.assignment_add, name="assignment_add"),
    path("users/<int:pk>/password/", views.user_password, name="user_password"),
    path("users/<int:pk>/active/", views.user_set_active, name="user_set_active"),
    path("assignments/<int:pk>/revoke/", views.assignment_revoke, name="assignment_revoke"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/new/", views.token_create, name="token_create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
