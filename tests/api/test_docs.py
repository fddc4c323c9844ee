"""The interactive API docs work offline: Swagger UI is served from the package."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tickwork import Tickwork
from tickwork.settings import Settings
from tickwork.web import create_app


def test_api_docs_use_vendored_assets(tmp_path: Path) -> None:
    app = Tickwork(f"sqlite:///{tmp_path / 'docs.db'}")
    app.migrate()
    client = TestClient(create_app(app, Settings()))
    page = client.get("/api/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets
    assert all(url.startswith("/api/docs/static/") for url in assets), assets
    for url in assets:
        assert client.get(url).status_code == 200, url
    assert client.get("/api/openapi.json").json()["info"]["title"] == "tickwork"
    app.close()
