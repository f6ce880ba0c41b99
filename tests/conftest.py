"""Shared fixtures: databases (SQLite and PostgreSQL), configuration files, fakes and sinks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import social_crm.schema  # noqa: F401 - every table, before any query
from social_crm.config import Settings, load_config
from social_crm.db import Database

from .factories import BRAND

PG_URL = os.environ.get(
    "SOCIAL_CRM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server's URL, or a skip naming what was tried."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
        pytest.skip(
            f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); "
            "set SOCIAL_CRM_TEST_PG_URL to test the PostgreSQL path"
        )
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_server).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'social_crm.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database."""
    database = Database(db_url)
    database.upgrade()
    yield database
    database.close()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a configuration file from a dict (a minimal valid one by default)."""

    def write(
        data: dict[str, Any] | None = None, *, name: str = "social_crm.yaml", **sections: Any
    ) -> Path:
        # The lexicon loads in milliseconds; the default model has tests of its own.
        sections.setdefault("sentiment", {"model": "lexicon"})
        content = data if data is not None else {"brands": [BRAND], **sections}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_settings(write_config: Callable[..., Path], db_url: str) -> Callable[..., Settings]:
    """Settings on the test database, with the given sections."""

    def make(**sections: Any) -> Settings:
        sections.setdefault("database", {"url": db_url})
        return load_config(write_config(**sections))

    return make
