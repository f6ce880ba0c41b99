"""The overview page: per brand, mentions and their sentiment over days and weeks, the
satisfaction index, open alerts; and whether listening works (the daemon, each source).

The charts' figures travel as JSON in a ``<script type="application/json">`` block that
``static/overview.js`` draws with uPlot: no inline script, as the CSP requires. Tables
beside them give the same figures to those who do not see the charts.
"""

from __future__ import annotations

import logging
from calendar import timegm
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from social_crm.insights.overview import BrandOverview, SentimentCounts, overview
from social_crm.web.auth import DatabaseDep, Reader
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

SATISFACTION_TABLE_WEEKS = 8  # the latest weeks listed beside the satisfaction chart


def configured_brands(request: Request) -> list[str]:
    """The configured brands' names, in the configuration's order."""
    return [brand.name for brand in request.app.state.settings.brands]


def _share(part: int, period: SentimentCounts) -> float | None:
    """``part`` as a percentage of the period's labelled mentions (None if none)."""
    labelled = period.negative + period.neutral + period.positive
    return round(100 * part / labelled, 1) if labelled else None


def _series(periods: Sequence[SentimentCounts]) -> dict[str, list[Any]]:
    """A chart's columns: period starts (Unix seconds, UTC) and the figures of each."""
    return {
        "x": [timegm(period.start.timetuple()) for period in periods],
        "total": [period.total for period in periods],
        "negative": [_share(period.negative, period) for period in periods],
        "positive": [_share(period.positive, period) for period in periods],
        "satisfaction": [
            None if period.satisfaction is None else round(100 * period.satisfaction)
            for period in periods
        ],
    }


def chart_data(brands: Sequence[BrandOverview]) -> dict[str, Any]:
    """What overview.js draws: each brand's days and weeks."""
    return {
        brand.brand: {"days": _series(brand.days), "weeks": _series(brand.weeks)}
        for brand in brands
    }


@router.get("/overview")
def overview_page(request: Request, _user: Reader, db: DatabaseDep) -> Response:
    """Per brand: volume, sentiment and satisfaction over time, open alerts; listening health."""
    with db.transaction() as session:
        view = overview(session, brands=configured_brands(request))
    return render(
        request,
        "overview/page.html",
        {
            "view": view,
            "charts": chart_data(view.brands),
            "table_weeks": SATISFACTION_TABLE_WEEKS,
        },
    )
