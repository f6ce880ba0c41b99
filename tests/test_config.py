"""Configuration: every mistake fails at start-up naming the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from social_crm.config import bundled_config, load_config
from social_crm.errors import ConfigError

from .factories import BRAND

EXAMPLE_ENV = {
    "REDDIT_CLIENT_ID": "id",
    "REDDIT_CLIENT_SECRET": "secret",
    "MASTODON_ACCESS_TOKEN": "token",
    "ALERT_WEBHOOK_URL": "https://chat.example.com/hook",
}


def test_example_config_documents_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDDIT_USERNAME", raising=False)
    settings = load_config(Path("config/social_crm.example.yaml"))
    assert settings.brands[0].hashtags == ["acme"]
    assert settings.connector_settings["reddit"].client_secret.get_secret_value() == "secret"
    assert settings.connector_settings["reddit"].username is None  # ${REDDIT_USERNAME:-} unset
    assert [c.name for c in settings.alerts.channels] == ["community-team", "chat"]
    assert settings.database_url.startswith("sqlite:///")


def test_demo_config_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in EXAMPLE_ENV:
        monkeypatch.delenv(name, raising=False)
    settings = load_config(bundled_config("demo.yaml"))
    assert set(settings.connector_settings) == {"reddit", "mastodon"}


def test_every_option_of_the_example_is_commented() -> None:
    for number, line in enumerate(
        Path("config/social_crm.example.yaml").read_text().splitlines(), 1
    ):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- type"):
            continue
        key_only = stripped.endswith(":")  # a section header, commented above it
        assert "#" in line or key_only or _commented_above(number), f"line {number}: {line}"


def _commented_above(number: int) -> bool:
    lines = Path("config/social_crm.example.yaml").read_text().splitlines()
    return lines[number - 2].strip().startswith("#")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"escalation": {"negative_treshold": 0.5}}, "escalation.negative_treshold: unknown key"),
        (
            {"escalation": {"negative_threshold": 2}},
            "escalation.negative_threshold: Input should be less than or equal to 1",
        ),
        (
            {"sentiment": {"batch_size": "many"}},
            "sentiment.batch_size: Input should be a valid integer",
        ),
        (
            {"alerts": {"channels": [{"type": "email", "host": "x", "sender": "a@b"}]}},
            "alerts.channels.0.email.recipients: required key is missing",
        ),
        (
            {"alerts": {"channels": [{"type": "pager"}]}},
            "alerts.channels.0: Input tag 'pager' found using 'type' does not match",
        ),
        (
            {"connectors": {"reddit": {"client_id": "x"}}},
            "connectors.reddit.client_secret: required key is missing",
        ),
        (
            {"connectors": {"reddit": {"client_id": "x", "client_secret": "y", "pasword": "z"}}},
            "connectors.reddit.pasword: unknown key",
        ),
        (
            {"connectors": {"twitter": {}}},
            "connectors.twitter.type: unknown connector type 'twitter'; known connectors: mastodon, reddit",
        ),
    ],
)
def test_a_wrong_key_names_file_path_and_expectation(write_config, section, expected) -> None:
    path = write_config(**section)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert expected in str(raised.value)


def test_brands_are_required(write_config) -> None:
    path = write_config({"sentiment": {"model": "lexicon"}})
    with pytest.raises(ConfigError, match=r"brands: required key is missing"):
        load_config(path)


def test_an_unset_environment_variable_is_named(write_config, monkeypatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    path = write_config(
        connectors={
            "mastodon": {"api_base_url": "https://m.example", "access_token": "${NOPE_TOKEN}"}
        }
    )
    with pytest.raises(
        ConfigError,
        match=r"connectors\.mastodon\.access_token: environment variable NOPE_TOKEN is not set",
    ):
        load_config(path)


def test_secrets_come_from_the_environment(write_config, monkeypatch) -> None:
    monkeypatch.setenv("TEST_TOKEN", "s3cret")
    path = write_config(
        connectors={
            "mastodon": {"api_base_url": "https://m.example", "access_token": "${TEST_TOKEN}"}
        }
    )
    settings = load_config(path)
    token = settings.connector_settings["mastodon"].access_token
    assert token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings.connector_settings)


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("brands: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "absent.yaml")


def test_hashtags_and_subreddits_are_normalised(write_config) -> None:
    brand = {**BRAND, "hashtags": ["#Brewly"], "subreddits": ["r/brewly", "/r/espresso"]}
    settings = load_config(write_config({"brands": [brand]}))
    assert settings.brands[0].hashtags == ["brewly"]
    assert settings.brands[0].subreddits == ["brewly", "espresso"]
