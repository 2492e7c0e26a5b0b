"""The research tables: one summary row per sweep or optimization run (``research_runs``).

The results themselves are Parquet files under ``<data_dir>/research/<run_id>/``; this row is
what lists and dashboards read: what ran, whether it finished, how far it got and its best
score. Written by ``algotrade.research.run_store``; created by migration 0003.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from algotrade.store.models import Base, UTCDateTime

RUN_KINDS = ("sweep", "optimize")
RUN_STATUSES = ("running", "done", "failed", "interrupted")


class ResearchRunRow(Base):
    __tablename__ = "research_runs"
    __table_args__ = (Index(None, "created_at"),)

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)  # RUN_KINDS
    strategy: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)  # RUN_STATUSES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    total_batches: Mapped[int] = mapped_column(Integer)
    done_batches: Mapped[int] = mapped_column(Integer)
    best_metric: Mapped[str | None] = mapped_column(String, nullable=True)
    best_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    path: Mapped[str] = mapped_column(Text)
