from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static as static_url
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import analytics.api.urls  # noqa: F401  (each module registers on the router)
import automation.api.urls  # noqa: F401
import characters.api.urls  # noqa: F401
import content.api.urls  # noqa: F401
import logs.api.urls  # noqa: F401
import platforms.api.urls  # noqa: F401
from config.admin_site import preferences_view
from config.api import router
from config.health import health
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
        SpectacularSwaggerView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
