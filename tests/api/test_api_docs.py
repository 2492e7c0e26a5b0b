"""/docs and /redoc work offline: every asset they load is served by the daemon itself."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from algotrade.api.docs import assets_dir
from testkit.api_harness import TestClient

BASE = "http://testserver"


def _referenced_urls(html: str) -> list[str]:
    # src=, href= and the spec URL handed to Swagger UI (url: '...') or ReDoc (spec-url=).
    pattern = r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|\burl:\s*'([^']+)'"""
    return [a or b for a, b in re.findall(pattern, html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_same_origin_assets(client: TestClient, page: str) -> None:
    response = client.get(page)  # open: a browser sends no API key
    assert response.status_code == 200
    html = response.text
    assert "http://" not in html, "an external URL in the page"
    assert "https://" not in html, "an external URL in the page"
    urls = _referenced_urls(html)
    assert len(urls) >= 3, urls  # script, stylesheet or favicon, and the OpenAPI document
    for url in urls:
        absolute = urljoin(f"{BASE}{page}", url)
        assert urlsplit(absolute).netloc == "testserver", url
        asset = client.get(absolute)
        assert asset.status_code == 200, f"{url}: {asset.status_code}"
        assert asset.content, url


def test_swagger_ui_bundle_is_a_version_that_renders_openapi_3_1(client: TestClient) -> None:
    # FastAPI writes OpenAPI 3.1, which Swagger UI renders from version 5 on.
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = (assets_dir() / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert "SwaggerUIBundle" in bundle
    versions = re.findall(r'"(\d+)\.\d+\.\d+"', bundle)
    assert "5" in versions


def test_the_open_asset_prefix_reaches_nothing_else(client: TestClient) -> None:
    # The asset folder is open without a key: a path that climbs out of it must find nothing,
    # neither a file nor an API route.
    for path in ("/docs/assets/%2e%2e/%2e%2e/pyproject.toml", "/docs/assets/%2e%2e/api/bots"):
        assert client.get(path).status_code == 404, path
    assert client.get("/docs/assets/no-such-file.js").status_code == 404
