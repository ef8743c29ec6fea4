from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from assessments.api import api
from assessments.views import accounts, errors

urlpatterns = [
    path("accounts/login/", accounts.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("favicon.ico", errors.favicon, name="favicon"),
    path("", include("assessments.urls")),
]

handler403 = "assessments.views.errors.forbidden"
handler404 = "assessments.views.errors.not_found"
handler500 = "assessments.views.errors.server_error"
