"""Reading the labelled sentiment data sets kept outside the project (never copied into it)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sentiment.base import LABELS

LOGGER = logging.getLogger(__name__)

# The data lives beside the project, in ../shared/data; SENTIMENT_DATA_DIR overrides it.
DATA_ROOT = Path(
    os.environ.get("SENTIMENT_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")
)
TWEETEVAL_DIR = DATA_ROOT / "tweeteval"
UMSAB_DIR = DATA_ROOT / "umsab"
UMSAB_LANGUAGES = (
    "arabic",
    "english",
    "french",
    "german",
    "hindi",
    "italian",
    "portuguese",
    "spanish",
)


class DataMissingError(FileNotFoundError):
    """A data split is not where it was looked for."""


def read_split(directory: Path, split: str) -> tuple[list[str], list[int]]:
    """The texts and labels (0 negative, 1 neutral, 2 positive) of ``<split>_text.txt``."""
    text_path = directory / f"{split}_text.txt"
    label_path = directory / f"{split}_labels.txt"
    if not text_path.is_file() or not label_path.is_file():
        raise DataMissingError(
            f"no {split} split in {directory} (looked for {text_path.name} and "
            f"{label_path.name}); set --data or SENTIMENT_DATA_DIR"
        )
    # Split on "\n" only: tweets may hold other characters that str.splitlines() breaks on.
    texts = text_path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    labels = [int(line) for line in label_path.read_text(encoding="utf-8").split()]
    if len(texts) != len(labels):
        raise ValueError(f"{directory}/{split}: {len(texts)} texts but {len(labels)} labels")
    if any(label not in range(len(LABELS)) for label in labels):
        raise ValueError(f"{directory}/{split}: labels outside 0..{len(LABELS) - 1}")
    LOGGER.debug("read %d texts from %s/%s", len(texts), directory, split)
    return texts, labels
