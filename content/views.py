"""Media files for staff (the admin's previews), read through the containment check.

Replaces Django's development-only `static()` serve, which follows a symbolic
link out of MEDIA_ROOT. Every file is resolved by content.media_paths first;
anything unsafe or missing is a plain 404 (no hint of what exists outside).
"""

import mimetypes

from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from content.media_paths import UnsafeMediaPath, resolve_media_path


@require_GET
@staff_member_required
def media_file(request, path: str):
    try:
        real = resolve_media_path(path)
    except UnsafeMediaPath:
        raise Http404("No such media file.") from None
    if not real.is_file():
        raise Http404("No such media file.")
    content_type, _ = mimetypes.guess_type(real.name)
    response = FileResponse(
        real.open("rb"), content_type=content_type or "application/octet-stream"
    )
    # a stored SVG or HTML file must not run script in the admin's origin
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response
