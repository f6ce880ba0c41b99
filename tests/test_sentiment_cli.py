"""``social-crm classify``: texts in, one JSON object a line out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment import LABELS

from .factories import BRAND


def classify(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "social_crm.cli", "classify", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )


def records(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture
def lexicon_config(write_config) -> Path:
    return write_config(brands=[BRAND], sentiment={"model": "lexicon", "uncertain_below": 0.6})


def test_texts_on_the_command_line_get_one_json_line_each(lexicon_config: Path) -> None:
    result = classify(
        "I love this, best coffee ever!",
        "De bezorging was weer te laat en niemand neemt de telefoon op",
        "",
        "--config",
        str(lexicon_config),
    )
    assert result.returncode == 0, result.stderr
    love, late, empty = records(result.stdout)
    assert love["text"] == "I love this, best coffee ever!"
    assert love["label"] == "positive"
    assert set(love["scores"]) == set(LABELS)  # type: ignore[arg-type]
    assert sum(love["scores"].values()) == pytest.approx(1.0, abs=1e-3)  # type: ignore[union-attr]
    assert love["uncertain"] is False
    assert late["language"] == "nl"
    assert empty == {
        "text": "",
        "label": "neutral",
        "scores": {"negative": 0.25, "neutral": 0.5, "positive": 0.25},
        "language": None,
        "uncertain": True,  # 0.5 is below this configuration's 0.6
    }


def test_a_file_gets_one_json_line_per_line_and_a_progress_bar(
    lexicon_config: Path, tmp_path: Path
) -> None:
    lines = [
        "Worst service ever, I want a refund",
        "",
        "😡😡😡",
        "https://example.com/only-a-link",
        "x" * 100_000,
        "nul\x00byte",
        "tab\tand\rcarriage return",
    ]
    file = tmp_path / "posts.txt"
    file.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + b"bad \xed\xa0\x80 utf-8\n")
    result = classify("--file", str(file), "--config", str(lexicon_config))
    assert result.returncode == 0, result.stderr
    out = records(result.stdout)
    assert [r["text"] for r in out[:-1]] == lines
    assert out[-1]["text"].startswith("bad ")  # type: ignore[union-attr]
    assert out[0]["label"] == "negative"
    assert all(r["label"] in LABELS for r in out)
    assert "classifying" in result.stderr and "8/8" in result.stderr


def test_standard_input_is_read_with_a_dash(lexicon_config: Path) -> None:
    result = classify("--file", "-", "--config", str(lexicon_config), stdin="great\nawful\n")
    assert result.returncode == 0, result.stderr
    assert [r["label"] for r in records(result.stdout)] == ["positive", "negative"]


def test_no_texts_or_a_missing_file_is_a_clear_error(lexicon_config: Path, tmp_path: Path) -> None:
    result = classify("--config", str(lexicon_config))
    assert result.returncode == 2
    assert "give texts, or --file" in result.stderr
    result = classify("--file", str(tmp_path / "nope.txt"), "--config", str(lexicon_config))
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_a_model_that_cannot_load_is_one_error_line(lexicon_config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    result = classify("--model", str(missing), "--config", str(lexicon_config), "great")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: sentiment.model: cannot load {str(missing)!r}: ")
    assert "Traceback" not in result.stderr


def test_the_default_model_routes_german_to_the_multilingual_head(lexicon_config: Path) -> None:
    result = classify(
        "--model",
        "default",
        "--config",
        str(lexicon_config),
        "Ich hasse diesen Laden, der Kundenservice ist eine absolute Katastrophe",
        "This is the best coffee machine I have ever owned, I love it!",
    )
    assert result.returncode == 0, result.stderr
    german, english = records(result.stdout)
    assert (german["language"], german["label"]) == ("de", "negative")
    assert (english["language"], english["label"]) == ("en", "positive")
