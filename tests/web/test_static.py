"""The dashboard's own files: vendored browser libraries match their manifest, the app
serves them itself, and ``social-crm web`` serves the whole dashboard."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from social_crm.config import Settings
from social_crm.db import Database
from social_crm.web.app import create_app
from social_crm.web.templating import STATIC, TEMPLATES

from .conftest import free_port

VENDOR = STATIC / "vendor"


def test_vendored_files_are_exactly_the_published_ones_named_in_the_manifest() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))
    packages = {entry["package"] for entry in manifest["files"]}
    assert {"htmx.org", "uplot"} <= packages
    for entry in manifest["files"]:
        assert set(entry) == {"package", "version", "file", "target", "sha256"}
        content = (VENDOR / entry["target"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], entry["target"]
    listed = {entry["target"] for entry in manifest["files"]} | {"manifest.json"}
    assert {path.name for path in VENDOR.iterdir()} == listed


def test_the_app_serves_its_scripts_and_styles_and_links_no_other_site(web_db: Database) -> None:
    app = create_app(Settings.model_validate({"brands": [{"name": "B"}]}), database=web_db)
    with TestClient(app) as client:
        script = client.get("/static/vendor/htmx.min.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith(
            ("text/javascript", "application/javascript")
        )
        assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
        assert client.get("/static/vendor/uPlot.iife.min.js").status_code == 200
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for marker in ('src="http', 'href="http', 'src="//', "<style", " style="):
            assert marker not in text, (template.name, marker)


def test_the_web_command_serves_the_dashboard(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config(database={"url": f"sqlite:///{tmp_path / 'web.sqlite'}"})
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "social_crm.cli", "web", "--port", str(port), "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/alerts", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.2)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Falerts"
        assert "Sign in" in httpx.get(f"http://127.0.0.1:{port}/login").text
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=20)
    assert f"web dashboard on http://127.0.0.1:{port}" in errors
    assert "Traceback" not in errors
