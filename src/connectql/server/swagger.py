"""/docs: FastAPI's Swagger UI page for the REST API, with its assets served by us."""

from __future__ import annotations

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from connectql.server import assets

PACKAGE = "swagger-ui-dist"
CHECKED = ("swagger-ui-bundle.js", "swagger-ui.css")


def page(root_path: str, openapi_url: str) -> HTMLResponse:
    urls = {file: assets.url(root_path, PACKAGE, file) for file in CHECKED}
    response = get_swagger_ui_html(
        openapi_url=root_path + openapi_url,
        title="connectql REST API",
        swagger_js_url=urls["swagger-ui-bundle.js"],
        swagger_css_url=urls["swagger-ui.css"],
        swagger_favicon_url=assets.url(root_path, PACKAGE, "favicon-32x32.png"),
        # the online validator would be a request to another origin
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(response.body).decode()
    # FastAPI writes plain tags; give each asset its hash from the manifest
    for file, url in urls.items():
        html = html.replace(f'"{url}"', f'"{url}" integrity="{assets.integrity(PACKAGE, file)}"')
    return HTMLResponse(html)
