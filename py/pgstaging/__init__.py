"""pgstaging: a PostgreSQL-native safety net for data written by untrusted scripts.

Scripts INSERT raw JSON into ``{table}_staging``; ``promote_{table}_staging(run_id)``
validates, de-duplicates and promotes it inside the database. This package
installs the SQL and wraps the calls; it holds no validation logic itself.
"""

from pgstaging.client import Failure, PromotionResult, RunStatus, StagingClient
from pgstaging.errors import (
    ConnectionFailed,
    OutcomeUnknown,
    PermissionDenied,
    PgStagingError,
    UnknownActor,
    UnknownRun,
    UnknownTable,
)
from pgstaging.installer import InstallResult, install

__version__ = "0.2.0"

__all__ = [
    "ConnectionFailed",
    "Failure",
    "InstallResult",
    "OutcomeUnknown",
    "PermissionDenied",
    "PgStagingError",
    "PromotionResult",
    "RunStatus",
    "StagingClient",
    "UnknownActor",
    "UnknownRun",
    "UnknownTable",
    "__version__",
    "install",
]
