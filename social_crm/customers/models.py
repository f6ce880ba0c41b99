"""Customers imported from the CRM, their identities, and suggested author links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from social_crm.customers.enums import SuggestionStatus
from social_crm.db.base import Base, UtcDateTime, utcnow
from social_crm.mentions.models import AuthorRecord


class Customer(Base):
    """A customer imported from the CRM."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    tier: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str | None] = mapped_column(String(50))  # CRM status: active, churned...
    website: Mapped[str | None] = mapped_column(String(1000))
    # Derived on import, for linking: the website as a site key, the name folded, the email.
    domain: Mapped[str | None] = mapped_column(String(300), index=True)
    name_key: Mapped[str | None] = mapped_column(String(300), index=True)
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Asked not to be approached as an ambassador: never listed again.
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Asked not to be contacted at all: no reply is sent to any of their accounts.
    do_not_contact_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    do_not_contact_by: Mapped[str | None] = mapped_column(String(200))

    identities: Mapped[list[Identity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )


class Identity(Base):
    """A customer's handle on one network, normalised."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("network", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(50))
    handle: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(50), default="crm")

    customer: Mapped[Customer] = relationship(back_populates="identities")


class LinkSuggestion(Base):
    """A possible author-customer link and what became of it.

    ``pending`` waits for a person; ``confirmed`` was linked; ``rejected`` and ``unlinked``
    pairs are never suggested or linked automatically again; ``superseded`` lost to another.
    """

    __tablename__ = "link_suggestions"
    __table_args__ = (UniqueConstraint("author_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=SuggestionStatus.PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    author: Mapped[AuthorRecord] = relationship()
    customer: Mapped[Customer] = relationship()
