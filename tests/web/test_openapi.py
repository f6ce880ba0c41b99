"""The API's OpenAPI document, and schemathesis fuzzing every operation it lists with an
admin's API token, with valid and invalid input: none makes the server fail (5xx)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from social_crm.config import Settings
from social_crm.db import Database
from social_crm.web.app import create_app

from . import seed
from .people import api_tokens


@pytest.fixture(scope="module")
def app(
    web_db: Database, web_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> FastAPI:
    seed.complaint(web_db)
    seed.fans(web_db)
    seed.customers(web_db, tmp_path_factory.mktemp("crm"))
    return create_app(web_settings, database=web_db)


@pytest.fixture(scope="module")
def admin_token(web_db: Database, app: FastAPI) -> str:
    return api_tokens(web_db)["ada"]


def test_the_document_is_served_to_token_holders_only(app: FastAPI, admin_token: str) -> None:
    with TestClient(app) as client:
        assert client.get("/api/v1/openapi.json").status_code == 401
        document = client.get(
            "/api/v1/openapi.json", headers={"Authorization": f"Bearer {admin_token}"}
        ).json()
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    assert {
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}/acknowledge",
        "/api/v1/alerts/{alert_id}/notes",
        "/api/v1/ambassadors/{network}/{handle}/review",
        "/api/v1/customers/{key}",
        "/api/v1/link-suggestions/{suggestion_id}/confirm",
    } <= paths
    assert all(path.startswith("/api/v1/") for path in paths)  # no page is an API operation
    listed = document["paths"]["/api/v1/alerts"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {
        "status",
        "severity",
        "brand",
        "network",
        "assignee",
        "limit",
        "cursor",
    }
    assert "422" in listed["responses"]


def test_no_generated_request_makes_the_server_fail(app: FastAPI, admin_token: str) -> None:
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    failures: list[str] = []
    calls = 0
    for operation, mode in itertools.product(schema.get_all_operations(), GenerationMode):
        api_operation = operation.ok()
        takes_input = any(
            (api_operation.path_parameters, api_operation.query, list(api_operation.body))
        )
        if mode is GenerationMode.NEGATIVE and not takes_input:
            continue  # an operation without input (the overview) has nothing to get wrong

        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=api_operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            nonlocal calls
            response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
            calls += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    assert calls >= 50
    assert failures == []
