"""multidb: migrate every database of an application, each with its own Alembic history."""

from __future__ import annotations

from .config import Base, Database, Project, find_config, load_config
from .customize import RunContext, run_context, x_arguments
from .errors import ConfigError, DatabaseError, Irreversible, MigrationError, MultiDBError, UsageError

__all__ = [
    "Base",
    "ConfigError",
    "Database",
    "DatabaseError",
    "Irreversible",
    "MigrationError",
    "MultiDBError",
    "Project",
    "RunContext",
    "UsageError",
    "find_config",
    "load_config",
    "run_context",
    "x_arguments",
]
