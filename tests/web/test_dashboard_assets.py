"""How the daemon serves the dashboard (no browser): open pages, security headers, Plotly from
the installed package, no external URL anywhere, no inline script."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from algotrade import web
from algotrade.api import create_app
from algotrade.core.errors import ConfigError
from testkit.api_harness import VERSION, TestClient, make_keys, make_test_client
from testkit.fake_bot_service import FakeBotService

STATIC = Path(web.__file__).parent / "static"
ASSETS = sorted(p for p in STATIC.rglob("*") if p.suffix in {".js", ".css", ".html", ".svg"})


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_test_client(create_app(FakeBotService(), make_keys(), version=VERSION)) as client:
        yield client


def csp_directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


@pytest.mark.parametrize("path", ["/", "/ui/app.js", "/ui/app.css", "/ui/pages/bots.js"])
def test_page_and_assets_need_no_key_and_carry_security_headers(
    client: TestClient, path: str
) -> None:
    response = client.get(path, headers={"Host": "127.0.0.1:8080"})
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-cache"
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no CDN
    assert csp["connect-src"] == ["'self'", "ws://127.0.0.1:8080", "wss://127.0.0.1:8080"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]


def test_index_is_html_and_the_api_still_needs_a_key(client: TestClient) -> None:
    index = client.get("/")
    assert index.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/app.js">' in index.text
    assert client.get("/api/bots").status_code == 401
    assert client.head("/").status_code == 200


def test_a_host_header_that_is_not_a_host_name_is_not_echoed_into_the_csp(
    client: TestClient,
) -> None:
    response = client.get("/", headers={"Host": "evil.example; script-src *"})
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["connect-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]


def test_plotly_comes_from_the_installed_package_and_revalidates(client: TestClient) -> None:
    packaged = Path(str(files("plotly") / "package_data" / "plotly.min.js")).read_bytes()
    response = client.get("/ui/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == packaged
    again = client.get(
        "/ui/vendor/plotly.min.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path", ["/ui/missing.js", "/ui/..%2F__init__.py", "/ui/vendor/other.js", "/ui/"]
)
def test_nothing_but_the_static_folder_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (401, 404), path
    assert b"install_dashboard" not in response.content


def test_a_missing_plotly_file_stops_the_start_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(web, "files", lambda package: tmp_path)
    with pytest.raises(ConfigError, match=r"plotly\.min\.js.*missing.*reinstall plotly"):
        create_app(FakeBotService(), make_keys(), version=VERSION)


@pytest.mark.parametrize("asset", ASSETS, ids=lambda p: str(p.relative_to(STATIC)))
def test_no_asset_refers_to_another_origin(asset: Path) -> None:
    # The page must work with no internet: no CDN, no web font, no external image.
    text = asset.read_text(encoding="utf-8")
    urls = re.findall(r"(?:https?|wss?)://[^\s\"'`)]*", text)
    urls += re.findall(r"url\(\s*['\"]?//[^)]*\)", text)  # protocol-relative CSS
    allowed = {"http://www.w3.org/2000/svg"}  # the SVG namespace, not a request
    assert [url for url in urls if url not in allowed] == []


def test_html_has_no_inline_script_or_handler() -> None:
    for page in STATIC.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, f"{page.name}: inline script {tag}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{page.name}: inline event handler"
        assert "javascript:" not in html


def test_page_modules_never_write_html_strings() -> None:
    # Values from the daemon (bot ids, log lines) must become text nodes, never markup.
    for module in STATIC.rglob("*.js"):
        text = module.read_text(encoding="utf-8")
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML", text), module.name
