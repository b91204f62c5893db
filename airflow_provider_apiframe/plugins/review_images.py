"""
The API server's app that serves stored images of local data sets for review (``storage/review_urls.py``).

Mounted by ``api_server.py``'s plugin under ``/apiframe`` and built on its first request, so that nothing
else imports FastAPI for it. One route: ``GET /apiframe/images?path=<file>&sha256=<digest>``.

Authentication: Airflow 3 mounts a plugin's app beside its own API, outside the API's authentication, so
the route asks for the user itself with Airflow's own dependency (``get_user``). Airflow 3.3's UI keeps
its session in the ``_token`` cookie (set by the login page, or HttpOnly and SameSite=Lax by the auth
manager's redirects; scoped to the API server's base path), which the browser sends with the Required
Actions page's ``<img>`` requests to the same origin, though they carry no ``Authorization`` header: a
signed-in reviewer loads the images, anyone else gets 401 (a bearer token works too, as for the API).
Any signed-in user may load an image whose path and digest they know: the digest (of the file's bytes,
not guessable) is only in the review's body, the data set's manifest and the task's XCom, all of which
already show the image. Binding a URL to one DAG's readers would need it signed with a secret that both
the workers and the API servers hold, which Airflow does not hand its workers in every deployment.

What may be served is decided by ``open_served_image`` alone (under ``[apiframe] review_roots``, listed
in its manifest with that digest, still those bytes); every refusal is the same 404, its reason logged.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import StreamingResponse

from airflow_provider_apiframe.storage.review_urls import (
    IMAGES_ROUTE,
    MAX_PATH,
    SHA256,
    NotServed,
    open_served_image,
    review_roots,
)

log = logging.getLogger(__name__)
# The digest in the URL names the bytes: the browser may keep them, for the signed-in user only.
CACHE_CONTROL = "private, max-age=86400, immutable"


def create_app() -> FastAPI:
    """Build the app: one authenticated route, no OpenAPI pages of its own."""
    from airflow.api_fastapi.core_api.security import get_user

    app = FastAPI(title="apiframe", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(IMAGES_ROUTE, dependencies=[Depends(get_user)])
    def stored_image(
        path: Annotated[str, Query(min_length=1, max_length=MAX_PATH)],
        sha256: Annotated[str, Query(pattern=f"^{SHA256.pattern}$")],
    ) -> StreamingResponse:
        """Serve one stored image, if every check passes; 404 otherwise."""
        # A sync route: FastAPI runs it on its thread pool, so the file's reads never block the event loop.
        try:
            image = open_served_image(path, sha256, review_roots())
        except NotServed as refused:
            log.warning("Not serving %r for review: %s", path, refused)
            raise HTTPException(status_code=404, detail="No such stored image") from None
        return StreamingResponse(
            image.chunks(),
            media_type=image.content_type,
            headers={
                "Content-Length": str(image.size),
                "ETag": f'"{image.sha256}"',
                "Cache-Control": CACHE_CONTROL,
                # The type is the one checked from the bytes: the browser must not guess another.
                "X-Content-Type-Options": "nosniff",
                # Only Airflow's own pages may embed it; the SameSite cookie already keeps other sites out.
                "Cross-Origin-Resource-Policy": "same-origin",
            },
        )

    return app
