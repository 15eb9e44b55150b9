"""Opening a sweep's database storage from its URL: clear errors within seconds, passwords masked.

``postgresql://`` URLs use psycopg2 (the ``ganx[postgres]`` extra) when psycopg 3 is not installed,
since SQLAlchemy 2.1 would otherwise look for psycopg 3.
"""

from __future__ import annotations

import importlib.util
import re

from ..errors import UserError

CONNECT_TIMEOUT_S = 5
EXAMPLES = "e.g. sqlite:///sweeps.db or postgresql://USER:PASSWORD@HOST:5432/DB"
_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)@")


def masked(text: str, url: str | None = None) -> str:
    """``text`` with the password of every ``scheme://user:password@`` (and of ``url``) replaced by ***."""
    out = _PASSWORD.sub(lambda m: f"{m['head']}***@", text)
    secret = _PASSWORD.search(url or "")
    return out.replace(secret["password"], "***") if secret and secret["password"] else out


def driver_url(url: str) -> str:
    """``url`` with the PostgreSQL driver made explicit where only psycopg2 is installed."""
    if url.startswith(("postgresql://", "postgres://")) and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def open_storage(url: str, **options):
    """An Optuna RDB storage for ``url``; a malformed, driverless or unreachable URL is a UserError.

    ``options`` go to ``RDBStorage`` (a sweep passes ``heartbeat_interval`` and ``grace_period``).
    """
    from optuna.storages import RDBStorage
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    shown = masked(url)
    try:
        parsed = make_url(driver_url(url))
    except ArgumentError:
        raise UserError(f"storage: {shown!r} is not a database URL ({EXAMPLES})") from None
    engine = (
        {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}} if parsed.get_backend_name() == "postgresql" else {}
    )
    try:
        return RDBStorage(driver_url(url), engine_kwargs=engine, **options)
    except ImportError:
        raise UserError(
            f"storage: {shown}: no database driver for {parsed.drivername!r} "
            "(for PostgreSQL: pip install 'ganx[postgres]')"
        ) from None
    except Exception as exc:  # sqlalchemy/driver errors: unreachable host, bad login, missing database
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"storage: cannot open {shown} ({masked(first, url)})") from None
