"""The notes table as the application declares it (what the history's head creates)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    author: Mapped[str | None] = mapped_column(sa.String(60), index=True)
