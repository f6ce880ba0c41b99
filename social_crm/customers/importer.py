"""Customer data from the CRM: CSV or JSON import (validated whole, all or nothing) and export.

Cells are stored as text, never evaluated. On CSV export a cell that a spreadsheet would run
as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed
with ``'`` (OWASP, CSV injection); import drops that one quote again, so an exported file
imports unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import delete, null, select, tuple_, update
from sqlalchemy.orm import Session, selectinload

from social_crm.config import LinkingConfig
from social_crm.customers.handles import name_key, normalise, site_key
from social_crm.customers.linking import customers_changed, link_authors
from social_crm.customers.models import Customer, Identity, LinkSuggestion
from social_crm.db.base import utcnow
from social_crm.errors import InputFileError
from social_crm.mentions.models import AuthorRecord

LOGGER = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "name")
NETWORK_COLUMNS = ("reddit", "mastodon")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "email", "tier", "status", "website", *NETWORK_COLUMNS)
# Each file column's limit is its table column's, so PostgreSQL never refuses a value.
FILE_COLUMNS = {
    "id": "external_id",
    "name": "name",
    "email": "email",
    "tier": "tier",
    "status": "status",
    "website": "website",
}
MAX_LENGTHS = {
    column: Customer.__table__.c[attribute].type.length  # type: ignore[attr-defined]
    for column, attribute in FILE_COLUMNS.items()
}
MAX_HANDLE_LENGTH: int = Identity.__table__.c["handle"].type.length  # type: ignore[attr-defined]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_REPORTED_ERRORS = 20
BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """One validated record of a customer file; ``place`` says where it is ("line 3", "[2]")."""

    place: str
    external_id: str
    name: str
    email: str | None
    tier: str | None
    status: str | None
    website: str | None
    identities: tuple[tuple[str, str], ...]  # (network, normalised handle)

    @property
    def line(self) -> int:
        """The CSV line number (0 for a JSON item)."""
        return int(self.place.removeprefix("line ")) if self.place.startswith("line ") else 0


@dataclass(slots=True)
class ImportResult:
    """What an import changed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: int = 0  # deleted: absent from the file, with pruning asked for
    authors_linked: int = 0
    errors: list[str] = field(default_factory=list)


# -- reading ------------------------------------------------------------------------------


def read_customer_file(path: Path) -> list[CustomerRow]:
    """Parse and validate a whole CSV or JSON file (by extension); InputFileError on any flaw."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_customer_csv(path)
    if suffix == ".json":
        return read_customer_json(path)
    raise InputFileError(
        f"{path}: unknown file type {suffix or '(none)'!r}; expected .csv or .json"
    )


def read_customer_csv(path: Path) -> list[CustomerRow]:
    """Parse and validate a whole CSV file; InputFileError lists every bad line and column."""
    text = _read_text(path)
    lines = _CountingLines(io.StringIO(text, newline=""))
    reader = csv.DictReader(lines, strict=True)
    rows: list[CustomerRow] = []
    errors: list[str] = []
    try:
        header = reader.fieldnames or []
        _check_header(path, header)
        for record in reader:
            place = f"line {reader.line_num}"
            try:
                rows.append(_parse_csv_record(path, place, record, len(header)))
            except InputFileError as exc:
                errors.append(str(exc))
    except csv.Error as exc:
        raise InputFileError(
            f"{path}: line {lines.count}: malformed CSV ({exc})\nnothing was imported"
        ) from None
    errors.extend(_duplicates(path, rows, "column"))
    _raise_if(errors)
    return rows


class _CountingLines:
    """Lines of a text, counting how many were read (the line a CSV error is on)."""

    def __init__(self, source: TextIO) -> None:
        self.source = source
        self.count = 0

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.count += 1
        return line


def read_customer_json(path: Path) -> list[CustomerRow]:
    """Parse and validate a JSON list of customer objects (or ``{"customers": [...]}``)."""
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
            "\nnothing was imported"
        ) from None
    if isinstance(data, dict) and set(data) == {"customers"}:
        data = data["customers"]
    if not isinstance(data, list):
        raise InputFileError(
            f'{path}: expected a list of customer objects, or {{"customers": [...]}}'
            "\nnothing was imported"
        )
    rows: list[CustomerRow] = []
    errors: list[str] = []
    for index, item in enumerate(data):
        try:
            rows.append(_parse_json_item(path, index, item))
        except InputFileError as exc:
            errors.append(str(exc))
    errors.extend(_duplicates(path, rows, "field"))
    _raise_if(errors)
    return rows


def _read_text(path: Path) -> str:
    """The file as text; anything but UTF-8 is an error naming the byte and line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            raise InputFileError(
                f"{path}: the file is {encoding} text; save it as UTF-8\nnothing was imported"
            )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputFileError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte "
            f"{exc.start}: {exc.reason}); save the file as UTF-8\nnothing was imported"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputFileError(
            f"{path}: line {line}: contains a NUL character; is it a text file?"
            "\nnothing was imported"
        )
    return text


def _raise_if(errors: list[str]) -> None:
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        suffix = f"\n... and {more} more" if more else ""
        raise InputFileError("\n".join(shown) + suffix + "\nnothing was imported")


def _check_header(path: Path, header: list[str]) -> None:
    expected = f"expected columns: {', '.join(KNOWN_COLUMNS)}"
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise InputFileError(f"{path}: line 1: missing column(s) {', '.join(missing)}; {expected}")
    unknown = [column for column in header if column not in KNOWN_COLUMNS]
    if unknown:
        raise InputFileError(f"{path}: line 1: unknown column(s) {', '.join(unknown)}; {expected}")
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise InputFileError(f"{path}: line 1: repeated column(s) {', '.join(repeated)}")


def _parse_csv_record(
    path: Path, place: str, record: dict[str | Any, Any], columns: int
) -> CustomerRow:
    if None in record:
        raise InputFileError(f"{path}: {place}: more fields than the header has columns")
    if any(value is None for value in record.values()):
        given = sum(value is not None for value in record.values())
        raise InputFileError(
            f"{path}: {place}: {given} field(s), but the header has {columns} columns"
        )
    values = {column: unescape_cell(record.get(column) or "").strip() for column in KNOWN_COLUMNS}
    handles = {
        network: [part.strip() for part in values[network].split(";") if part.strip()]
        for network in NETWORK_COLUMNS
    }
    return _build_row(path, place, values, handles, lambda column: f"{place}, column {column}")


def _parse_json_item(path: Path, index: int, item: object) -> CustomerRow:
    place = f"[{index}]"
    if not isinstance(item, dict):
        raise InputFileError(f"{path}: {place}: expected an object, got {type(item).__name__}")
    unknown = [key for key in item if key not in KNOWN_COLUMNS]
    if unknown:
        raise InputFileError(
            f"{path}: {place}: unknown field(s) {', '.join(map(str, unknown))}; "
            f"expected fields: {', '.join(KNOWN_COLUMNS)}"
        )
    values: dict[str, str] = {}
    for key in KNOWN_COLUMNS:
        if key in NETWORK_COLUMNS:
            continue
        value = item.get(key)
        if value is None:
            values[key] = ""
        elif isinstance(value, str) or (key == "id" and isinstance(value, int)):
            values[key] = str(value).strip()
        else:
            raise InputFileError(
                f"{path}: {place}.{key}: expected text, got {type(value).__name__}"
            )
    handles: dict[str, list[str]] = {}
    for network in NETWORK_COLUMNS:
        value = item.get(network)
        if value is None:
            handles[network] = []
        elif isinstance(value, str):
            handles[network] = [part.strip() for part in value.split(";") if part.strip()]
        elif isinstance(value, list) and all(isinstance(part, str) for part in value):
            handles[network] = [part.strip() for part in value if part.strip()]
        else:
            raise InputFileError(
                f"{path}: {place}.{network}: expected a handle or a list of handles"
            )
    return _build_row(path, place, values, handles, lambda key: f"{place}.{key}")


def _build_row(
    path: Path,
    place: str,
    values: dict[str, str],
    handles: dict[str, list[str]],
    where: Callable[[str], str],
) -> CustomerRow:
    for column in REQUIRED_COLUMNS:
        if not values.get(column):
            raise InputFileError(f"{path}: {where(column)}: value is required")
    for column, limit in MAX_LENGTHS.items():
        if len(values.get(column, "")) > limit:
            raise InputFileError(f"{path}: {where(column)}: longer than {limit} characters")
    email = values.get("email") or None
    if email and (
        email.count("@") != 1 or email.startswith("@") or email.endswith("@") or " " in email
    ):
        raise InputFileError(f"{path}: {where('email')}: {email!r} is not an address")
    website = values.get("website") or None
    if website and site_key(website) is None:
        raise InputFileError(f"{path}: {where('website')}: {website!r} is not a web address")
    identities = []
    for network in NETWORK_COLUMNS:
        for handle in handles.get(network, []):
            try:
                canonical = normalise(network, handle)
            except ValueError as exc:
                raise InputFileError(f"{path}: {where(network)}: {exc}") from None
            if len(canonical) > MAX_HANDLE_LENGTH:
                raise InputFileError(
                    f"{path}: {where(network)}: longer than {MAX_HANDLE_LENGTH} characters"
                )
            identities.append((network, canonical))
    return CustomerRow(
        place=place,
        external_id=values["id"],
        name=values["name"],
        email=email,
        tier=values.get("tier") or None,
        status=values.get("status") or None,
        website=website,
        identities=tuple(dict.fromkeys(identities)),
    )


def _duplicates(path: Path, rows: list[CustomerRow], word: str) -> list[str]:
    def where(row: CustomerRow, column: str) -> str:
        return f"{row.place}, {word} {column}" if word == "column" else f"{row.place}.{column}"

    def at(row: CustomerRow) -> str:
        return f"on {row.place}" if word == "column" else f"at {row.place}"

    errors = []
    seen_ids: dict[str, CustomerRow] = {}
    seen_handles: dict[tuple[str, str], CustomerRow] = {}
    for row in rows:
        first = seen_ids.setdefault(row.external_id, row)
        if first is not row:
            errors.append(
                f"{path}: {where(row, 'id')}: {row.external_id!r} already used {at(first)}"
            )
        for network, handle in row.identities:
            other = seen_handles.setdefault((network, handle), row)
            if other.external_id != row.external_id:
                errors.append(
                    f"{path}: {where(row, network)}: {handle!r} "
                    f"already belongs to customer {other.external_id!r} {at(other)}"
                )
    return errors


def unescape_cell(value: str) -> str:
    """A cell as imported: the ``'`` that export puts before a formula-like cell is dropped."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_PREFIXES:
        return value[1:]
    return value


def safe_cell(value: str) -> str:
    """A cell that no spreadsheet runs as a formula: ``'`` before ``=``, ``+``, ``-``, ``@``..."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


# -- importing ----------------------------------------------------------------------------


def import_customers(
    session: Session, path: Path, *, linking: LinkingConfig | None = None, prune: bool = False
) -> ImportResult:
    """Upsert the file's customers by external id and replace their CRM identities; with
    ``prune``, delete the customers the file does not list, with their links.

    Raises InputFileError before touching the database when any record is bad; the caller's
    transaction makes the write all-or-nothing. Authors are linked afterwards.
    """
    rows = read_customer_file(path)
    if prune and not rows and session.scalar(select(Customer.id).limit(1)) is not None:
        raise InputFileError(
            f"{path}: lists no customers; pruning would delete them all\nnothing was imported"
        )
    result = ImportResult()
    if prune:
        # First, so a handle may move to a listed customer from one the file dropped.
        result.pruned = _prune(session, {row.external_id for row in rows})
    else:
        _check_handles_free(session, path, rows)
    existing = {
        c.external_id: c
        for c in session.scalars(
            select(Customer)
            .where(Customer.external_id.in_([r.external_id for r in rows]))
            .options(selectinload(Customer.identities))
        )
    }
    now = utcnow()
    changed: list[tuple[Customer, CustomerRow]] = []
    for row in rows:
        customer = existing.get(row.external_id)
        if customer is None:
            customer = Customer(external_id=row.external_id)
            session.add(customer)
            result.created += 1
        elif _unchanged(customer, row):
            result.unchanged += 1
            continue
        else:
            result.updated += 1
            customer.updated_at = now
        customer.name, customer.email, customer.tier = row.name, row.email, row.tier
        customer.status, customer.website = row.status, row.website
        customer.domain = site_key(row.website) if row.website else None
        customer.name_key = name_key(row.name)
        customer.email_key = row.email.lower() if row.email else None
        for identity in list(customer.identities):
            if (identity.network, identity.handle) not in row.identities:
                customer.identities.remove(identity)
        changed.append((customer, row))
    # Removals reach the database before additions, so a handle can move between customers.
    session.flush()
    for customer, row in changed:
        present = {(i.network, i.handle) for i in customer.identities}
        for network, handle in row.identities:
            if (network, handle) not in present:
                customer.identities.append(Identity(network=network, handle=handle, source="crm"))
    session.flush()
    if changed or result.pruned:
        customers_changed(session, now=now)
    result.authors_linked = link_authors(session, linking)
    LOGGER.info(
        "imported %s: %d created, %d updated, %d unchanged, %d pruned",
        path,
        result.created,
        result.updated,
        result.unchanged,
        result.pruned,
    )
    return result


def _prune(session: Session, keep: set[str]) -> int:
    """Delete the customers not in ``keep`` (external ids) with their identities and link
    suggestions; their authors are unlinked. Returns how many were deleted."""
    gone = [
        customer_id
        for customer_id, external_id in session.execute(select(Customer.id, Customer.external_id))
        if external_id not in keep
    ]
    for start in range(0, len(gone), 500):
        part = gone[start : start + 500]
        session.execute(
            update(AuthorRecord)
            .where(AuthorRecord.customer_id.in_(part))
            .values(
                customer_id=None,
                linked_by=None,
                linked_at=None,
                link_evidence=null(),
                link_checked_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(delete(LinkSuggestion).where(LinkSuggestion.customer_id.in_(part)))
        session.execute(delete(Identity).where(Identity.customer_id.in_(part)))
        session.execute(delete(Customer).where(Customer.id.in_(part)))
    if gone:
        session.expire_all()
        LOGGER.info("pruned %d customer(s) absent from the CRM file", len(gone))
    return len(gone)


def _unchanged(customer: Customer, row: CustomerRow) -> bool:
    stored = (customer.name, customer.email, customer.tier, customer.status, customer.website)
    return (
        stored == (row.name, row.email, row.tier, row.status, row.website)
        and customer.name_key is not None
        and {(i.network, i.handle) for i in customer.identities} == set(row.identities)
    )


def _check_handles_free(session: Session, path: Path, rows: list[CustomerRow]) -> None:
    """A handle already held by a customer outside this file is an error, not a silent move."""
    wanted = {identity: row for row in rows for identity in row.identities}
    if not wanted:
        return
    in_file = {row.external_id for row in rows}
    held = []
    pairs = list(wanted)
    for start in range(0, len(pairs), 500):
        held.extend(
            session.execute(
                select(Identity.network, Identity.handle, Customer.external_id)
                .join(Customer)
                .where(tuple_(Identity.network, Identity.handle).in_(pairs[start : start + 500]))
            ).all()
        )
    errors = [
        f"{path}: {_where(wanted[(network, handle)], network)}: {handle!r} "
        f"already belongs to customer {owner!r}"
        for network, handle, owner in held
        if owner not in in_file
    ]
    if errors:
        _raise_if(errors)


def _where(row: CustomerRow, column: str) -> str:
    return (
        f"{row.place}, column {column}" if row.place.startswith("line") else f"{row.place}.{column}"
    )


# -- exporting ----------------------------------------------------------------------------


def customer_records(session: Session) -> Iterable[dict[str, Any]]:
    """Every customer as a plain record, by external id; handles listed per network."""
    customers = session.scalars(
        select(Customer).options(selectinload(Customer.identities)).order_by(Customer.external_id)
    )
    for customer in customers:
        record: dict[str, Any] = {
            "id": customer.external_id,
            "name": customer.name,
            "email": customer.email,
            "tier": customer.tier,
            "status": customer.status,
            "website": customer.website,
        }
        for network in NETWORK_COLUMNS:
            record[network] = sorted(i.handle for i in customer.identities if i.network == network)
        yield record


def export_customers(session: Session, stream: TextIO, *, fmt: str = "csv") -> int:
    """Write every customer to ``stream`` as CSV (formula-safe) or JSON; returns how many."""
    records = list(customer_records(session))
    if fmt == "json":
        json.dump(records, stream, ensure_ascii=False, indent=2)
        stream.write("\n")
        return len(records)
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}; expected csv or json")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(KNOWN_COLUMNS)
    for record in records:
        cells = [
            ";".join(record[column]) if column in NETWORK_COLUMNS else record[column] or ""
            for column in KNOWN_COLUMNS
        ]
        writer.writerow([safe_cell(cell) for cell in cells])
    return len(records)
