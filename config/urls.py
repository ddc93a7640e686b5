from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static as static_url
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import analytics.api.urls  # noqa: F401  (each module registers on the router)
import automation.api.urls  # noqa: F401
import characters.api.urls  # noqa: F401
import content.api.urls  # noqa: F401
import logs.api.urls  # noqa: F401
import platforms.api.urls  # noqa: F401
from config.admin_site import preferences_view
from config.api import api_not_found, router
from config.api_tokens import RevokeAllTokensView, RevokeTokenView
from config.ops.health import health
from content.views import media_file
from platforms import media_links


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # resolved per request: the hashed name exists once collectstatic has run
    return HttpResponsePermanentRedirect(static_url("config/favicon.svg"))


urlpatterns = [
    path(
        "admin/preferences/",
        admin.site.admin_view(preferences_view),
        name="operator-preferences",
    ),
    path("admin/", admin.site.urls),
    # browsers ask for /favicon.ico where a page names no icon (the API's pages)
    path("favicon.ico", favicon),
    path("health/", health, name="health"),
    path("api/v1/auth/revoke/", RevokeTokenView.as_view(), name="token-revoke"),
    path(
        "api/v1/auth/revoke-all/",
        RevokeAllTokensView.as_view(),
        name="token-revoke-all",
    ),
    # signed, expiring links to scheduled posts' media (platforms fetch by URL)
    path(
        "media-links/<str:token>/<str:name>",
        media_links.serve,
        name="media-link",
    ),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        # the split view serves its starter script as a file (no inline script,
        # so the Content-Security-Policy keeps script-src 'self')
        SpectacularSwaggerSplitView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
    # anything else under api/ is the API's JSON 404, not Django's HTML page
    re_path(r"^api/", api_not_found),
    # staff only, every path resolved inside MEDIA_ROOT (content.media_paths)
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media_file, name="media"),
]
