"""``social-crm classify``: label texts with the sentiment model, one JSON line each."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from social_crm.cli import render
from social_crm.cli.common import ConfigOption, settings
from social_crm.config import default_config_path

if TYPE_CHECKING:
    from sentiment import Classifier

LOGGER = logging.getLogger(__name__)


def classify(
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to label.", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="A UTF-8 file with one text a line ('-': standard input)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Instead of sentiment.model: default, lexicon, a folder or hub id."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Label texts; print one JSON object a line: text, label, scores, language, uncertain."""
    from sentiment import ModelError, load_classifier
    from social_crm.config import SentimentConfig
    from social_crm.errors import ConfigError
    from social_crm.mentions.classify import as_json_line, classify_stream

    if (texts and file) or not (texts or file):
        raise typer.BadParameter("give texts, or --file, not both")
    path = config or default_config_path()
    sentiment = (
        settings(config, sections=("sentiment",)).sentiment
        if config or path.is_file()
        else SentimentConfig()
    )
    try:
        classifier = load_classifier(
            model or sentiment.model,
            batch_size=sentiment.batch_size,
            uncertain_below=sentiment.uncertain_below,
        )
    except ModelError as exc:
        raise ConfigError(str(exc)) from exc
    if texts:
        for text, result in classify_stream(classifier, texts, batch_size=sentiment.batch_size):
            typer.echo(as_json_line(text, result))
        return
    assert file is not None
    _classify_file(classifier, file, batch_size=sentiment.batch_size)


def _classify_file(classifier: Classifier, file: Path, *, batch_size: int) -> None:
    """Stream one JSON line per line of ``file``, with a progress bar on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from social_crm.mentions.classify import as_json_line, classify_stream

    stdin = str(file) == "-"
    if not stdin and not file.is_file():
        raise typer.BadParameter(f"{file}: no such file", param_hint="--file")
    total = None if stdin else _count_lines(file)
    handle = (
        io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
        if stdin
        else file.open(encoding="utf-8", errors="replace", newline="\n")
    )
    lines = (line.removesuffix("\n").removesuffix("\r") for line in handle)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=render.err_console,
    )
    with handle, progress:
        task = progress.add_task("classifying", total=total)
        for text, result in classify_stream(classifier, lines, batch_size=batch_size):
            typer.echo(as_json_line(text, result))
            progress.advance(task)


def _count_lines(file: Path) -> int:
    """The number of lines in ``file`` (a last line without a newline counts)."""
    count = 0
    last = b"\n"
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")
