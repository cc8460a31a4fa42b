from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from access_requests.apis_visas import WellKnownJwksApi
from federation.apis import FederatedCountsApi
from portal import apis, views

api_v1 = [
    path("me/", apis.MeApi.as_view(), name="api-me"),
    path("", include("catalogue.api_urls")),
    path("", include("access_requests.api_urls")),
    path("federation/counts/", FederatedCountsApi.as_view(), name="api-federation-counts"),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/sent/", views.signup_done, name="signup-done"),
    path("accounts/confirm-email/", views.email_proof_resend_page, name="email-proof-resend"),
    path("accounts/confirm-email/<str:token>/", views.email_verify_page, name="email-verify"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/confirm-password/", views.sudo, name="sudo"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("audit/", views.audit_log, name="audit_log"),
    path("catalogue/", include("catalogue.urls")),
    path("applications/", include("access_requests.urls")),
    path("federation/", include("federation.urls")),
    path("", include("access_requests.grant_urls")),
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots, name="robots"),
    # the public keys that verify the portal's GA4GH visas (access_requests/services/visas.py)
    path(".well-known/jwks.json", WellKnownJwksApi.as_view(), name="jwks"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI with its start-up script as a file of its own, so the strict CSP holds
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "portal.errorpages.not_found"
handler403 = "portal.errorpages.forbidden"
handler500 = "portal.errorpages.server_error"
handler400 = "portal.errorpages.bad_request"
