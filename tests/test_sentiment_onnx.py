"""The default model under ONNX Runtime: exported once, cached, the same labels as torch."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentiment import ModelError, onnx_backend
from sentiment.minilm import BASE_PACKAGE, MODEL_DIR, DefaultClassifier, base_model_dir

TEXTS = [
    "I love this coffee machine, it is absolutely wonderful! Best purchase ever",
    "This is terrible. I hate it, worst customer service I have ever had.",
    "The store opens at 9am on Monday.",
    "not bad at all, actually pretty good",
    "Worst. Update. Ever.",
    "",
    "😡😡😡",
    "x" * 100_000,
    "nul\x00byte \ud800",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def onnx_int8(cache: Path) -> Iterator[DefaultClassifier]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield DefaultClassifier(cache_dir=cache, threads=2)


@pytest.fixture(scope="module")
def torch_fp32() -> DefaultClassifier:
    return DefaultClassifier(backend="torch")


def test_onnx_int8_is_the_default_backend_and_is_cached(
    onnx_int8: DefaultClassifier, cache: Path
) -> None:
    assert onnx_int8.backend == "onnx-int8"
    assert onnx_int8.name.endswith("-onnx-int8")
    exported = list(cache.glob("sentiment/*/model-int8.onnx"))
    assert len(exported) == 1
    # int8 weights: about a quarter of the fp32 model's 90 MB.
    assert 10e6 < exported[0].stat().st_size < 40e6
    assert not list(cache.glob("sentiment/*/.export-*")), "scratch files are cleaned up"


def test_a_second_load_reads_the_cache_without_exporting(
    onnx_int8: DefaultClassifier, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_backend, "build", no_export)
    again = DefaultClassifier(cache_dir=cache, threads=1)
    assert again.classify(TEXTS) == onnx_int8.classify(TEXTS)


def test_labels_agree_with_the_torch_model(
    onnx_int8: DefaultClassifier, torch_fp32: DefaultClassifier
) -> None:
    ours, reference = onnx_int8.classify(TEXTS), torch_fp32.classify(TEXTS)
    assert [r.label for r in ours] == [r.label for r in reference]
    for mine, theirs in zip(ours, reference, strict=True):
        for label, score in theirs.scores.items():
            assert mine.scores[label] == pytest.approx(score, abs=0.08)


def test_scores_do_not_depend_on_the_batch(onnx_int8: DefaultClassifier) -> None:
    batched = onnx_int8.classify(TEXTS)
    alone = [onnx_int8.classify([text])[0] for text in TEXTS]
    reversed_batch = onnx_int8.classify(TEXTS[::-1])[::-1]
    for a, b, c in zip(batched, alone, reversed_batch, strict=True):
        for label in a.scores:
            assert a.scores[label] == pytest.approx(b.scores[label], abs=1e-5)
            assert a.scores[label] == pytest.approx(c.scores[label], abs=1e-5)


def test_a_changed_adapter_gets_a_new_cache_key(tmp_path: Path) -> None:
    copy = tmp_path / "adapter"
    shutil.copytree(MODEL_DIR, copy)
    base = base_model_dir()
    before = onnx_backend.cache_key(copy, base.name)
    assert onnx_backend.cache_key(copy, base.name) == before
    metadata = copy / "sentiment.json"
    metadata.write_text(metadata.read_text().replace('"temperature"', '"temperature" '))
    assert onnx_backend.cache_key(copy, base.name) != before


def test_an_unwritable_cache_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="sentiment.onnx_backend"):
        classifier = DefaultClassifier(cache_dir=blocked, threads=1)
    assert "cannot cache the ONNX sentiment model" in caplog.text
    assert classifier.backend == "onnx-int8"
    assert classifier.classify(["I love it"])[0].label == "positive"


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIAL_CRM_CACHE_DIR", "/srv/crm-cache")
    assert onnx_backend.cache_root() == Path("/srv/crm-cache")
    monkeypatch.delenv("SOCIAL_CRM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/me")
    assert onnx_backend.cache_root() == Path("/var/cache/me/social-crm")


def test_an_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ModelError, match="onnx-int8, onnx, torch, torch-int8"):
        DefaultClassifier(backend="tensorrt")


def test_a_damaged_cache_file_is_rebuilt(
    onnx_int8: DefaultClassifier, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    key = onnx_backend.cache_key(MODEL_DIR, base_model_dir().name, [BASE_PACKAGE])
    damaged = cache / "sentiment" / key / onnx_backend.INT8_FILE
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"cut short")
    with caplog.at_level(logging.WARNING, logger="sentiment.onnx_backend"):
        classifier = DefaultClassifier(cache_dir=cache, threads=1)
    assert "rebuilding it" in caplog.text
    assert damaged.stat().st_size > 10e6
    assert classifier.classify(TEXTS) == onnx_int8.classify(TEXTS)
