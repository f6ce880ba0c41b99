"""`social-crm run` serves Prometheus metrics: what it stored, classified and failed to send,
what waits in each queue, which sources it polls and when each last worked."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from social_crm.config import MetricsConfig
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.demo.servers.sinks import WebhookSink, free_port
from social_crm.errors import ConfigError
from social_crm.jobs.metrics import Metrics

from .commands import one_error_line, social_crm
from .daemons import start_daemon, wait_for
from .factories import BRAND

SOURCES = {
    ("reddit", "Brewly:r/brewly+espresso:new"),
    ("reddit", "Brewly:r/brewly+espresso:comments"),
    ("reddit", "Brewly:search"),
    ("mastodon", "Brewly:tag:brewly"),
    ("mastodon", "Brewly:mentions"),
}


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Each sample of the page: name -> labels -> value."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def test_the_daemon_serves_its_metrics(
    tmp_path: Path, write_config: Callable[..., Path], db_url: str
) -> None:
    with FakeReddit() as reddit, FakeMastodon(owner="brewly") as mastodon, WebhookSink() as hook:
        mastodon.add_account("anna", remote_domain="mastodon.nl")
        reddit.submit(
            "brewly",
            author="Grumpy_Gus",
            title="Brewly support is a disgrace",
            selftext="Broken after two weeks. Terrible, awful service.",
        )
        mastodon.post("anna@mastodon.nl", "My #Brewly grinder arrived, nice design.")
        config = write_config(
            brands=[BRAND],
            database={"url": db_url},
            connectors={
                "reddit": {
                    "base_url": reddit.url,
                    "client_id": "demo-client",
                    "client_secret": "demo-secret",
                    "poll_interval_seconds": 1,
                },
                "mastodon": {
                    "api_base_url": mastodon.url,
                    "access_token": "demo-token",
                    "poll_interval_seconds": 1,
                },
            },
            alerts={
                "retry_base_seconds": 0.2,
                "channels": [
                    {"type": "webhook", "name": "chat", "url": hook.url},
                    # Nothing listens there: every attempt fails.
                    {"type": "webhook", "name": "pager", "url": f"http://127.0.0.1:{free_port()}/"},
                ],
            },
            scheduler={
                "process_interval_seconds": 0.3,
                "deliver_interval_seconds": 0.3,
                "jitter_seconds": 0,
            },
            metrics={"port": 0},  # any free port: the log names it
        )
        daemon = start_daemon(config, tmp_path / "daemon.log")
        try:
            daemon.wait_running()
            served = re.search(
                r"metrics served on (http://127\.0\.0\.1:\d+/metrics)", daemon.text()
            )
            assert served, daemon.text()
            url = served.group(1)
            wait_for(lambda: hook.payloads, timeout=30, what="the alert")
            wait_for(
                lambda: scrape(url).get("social_crm_delivery_failures_total"),
                timeout=30,
                what="a failed delivery",
            )
            metrics = scrape(url)
        finally:
            assert daemon.stop() == 0, daemon.text()

    stored = metrics["social_crm_mentions_stored_total"]
    assert stored[(("connector", "reddit"), ("source", "Brewly:r/brewly+espresso:new"))] == 1
    assert stored[(("connector", "mastodon"), ("source", "Brewly:tag:brewly"))] == 1
    assert metrics["social_crm_classification_seconds_count"][()] >= 1
    assert metrics["social_crm_mentions_classified_total"][()] == 2
    failures = metrics["social_crm_delivery_failures_total"]
    assert failures[(("channel", "pager"),)] >= 1 and (("channel", "chat"),) not in failures
    queues = {
        dict(labels)["queue"]: value for labels, value in metrics["social_crm_queue_depth"].items()
    }
    # Stored, classified and escalated; the pager's delivery waits for its next attempt.
    assert queues == {"unclassified": 0, "unescalated": 0, "undelivered": 1, "unsent_replies": 0}
    held = {
        (dict(labels)["connector"], dict(labels)["source"]): value
        for labels, value in metrics["social_crm_source_lease_held"].items()
    }
    assert held == {source: 1 for source in SOURCES}  # alone, it polls every source
    polled = metrics["social_crm_source_last_success_timestamp_seconds"]
    assert len(polled) == len(SOURCES)
    assert all(time.time() - 60 < at <= time.time() for at in polled.values())
    jobs = {dict(labels)["job"] for labels in metrics["social_crm_job_lease_held"]}
    assert {"health", "sla", "spikes", "digest", "score"} <= jobs
    assert metrics["social_crm_database_up"][()] == 1
    assert metrics["process_resident_memory_bytes"][()] > 0


def test_a_metrics_port_in_use_is_one_clear_line(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"metrics.port: cannot serve on 127.0.0.1:{port}"):
            Metrics().serve(MetricsConfig(port=port))
        config = write_config(
            database={"url": f"sqlite:///{tmp_path / 'crm.sqlite'}"}, metrics={"port": port}
        )
        line = one_error_line(social_crm("run", "--config", str(config)))
    assert line == f"error: metrics.port: cannot serve on 127.0.0.1:{port}: Address already in use"


def test_metrics_are_off_unless_a_port_is_set(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(database={"url": f"sqlite:///{tmp_path / 'crm.sqlite'}"})
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        daemon.wait_running()
    finally:
        assert daemon.stop() == 0
    assert "metrics served" not in daemon.text()
