"""Typed, immutable settings read from the environment, `.env` and `st.secrets`.

Precedence: process environment, then `.env` (python-dotenv, never overriding the
environment), then top-level keys of `st.secrets` when running under Streamlit.
Errors name the bad setting but never echo its value: URLs and keys hold secrets.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dashboard.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent

AuthMode = Literal["username", "oidc"]
GeneratorChoice = Literal["auto", "offline", "openai"]

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Everything the app can be configured with; see the README's settings table."""

    database_url: str | None = field(default=None, repr=False)
    data_database_url: str | None = field(default=None, repr=False)
    data_schemas: tuple[str, ...] = ("demo",)
    reader_role: str = "dashboard_reader"
    reader_database_url: str | None = field(default=None, repr=False)
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = field(default=None, repr=False)
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = 60.0
    ask_deadline_s: float = 120.0
    generator: GeneratorChoice = "auto"
    query_timeout_ms: int = 10_000
    max_rows: int = 10_000
    context_tokens: int = 6000
    send_sample_values: bool = True
    auth_mode: AuthMode = "username"
    timezone: str = "UTC"
    pool_size: int = 10
    pool_timeout_s: float = 10.0
    data_dir: Path = PROJECT_DIR / ".data"

    @property
    def embedded(self) -> bool:
        """True when no DATABASE_URL is given and the app runs its own PostgreSQL."""
        return self.database_url is None

    @property
    def generator_in_use(self) -> Literal["offline", "openai"]:
        """`auto` picks the LLM when a key or a base URL is configured."""
        if self.generator == "auto":
            return "openai" if (self.openai_api_key or self.openai_base_url) else "offline"
        return self.generator


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _postgres_url(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"postgresql", "postgres"}:
        raise ConfigError(
            f"{name} is not a valid PostgreSQL URL "
            "(expected postgresql://user:password@host:5432/dbname)."
        )
    return value


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL such as http://localhost:11434/v1.")
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float,
            kind: type[int] | type[float] = int) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a {'whole ' if kind is int else ''}number.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {_plain(low)} and {_plain(high)}.")
    return value


def _plain(number: float) -> str:
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be on or off (true/false, 1/0, yes/no).")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = _text(env, name)
    if raw is None:
        return default
    if raw.lower() not in allowed:
        raise ConfigError(f"{name} must be one of: {', '.join(allowed)}.")
    return raw.lower()


def _identifier(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _text(env, name) or default
    if not _IDENTIFIER.match(raw):
        raise ConfigError(
            f"{name} must be a lower-case PostgreSQL name (letters, digits, underscores)."
        )
    return raw


def _schemas(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _text(env, "DATA_SCHEMAS") or "demo"
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names or not all(_IDENTIFIER.match(n) for n in names):
        raise ConfigError("DATA_SCHEMAS must be a comma-separated list of schema names.")
    forbidden = {"pg_catalog", "information_schema", "pg_toast"}
    if forbidden & set(names):
        raise ConfigError("DATA_SCHEMAS cannot include PostgreSQL's system schemas.")
    return names


def _timezone(env: Mapping[str, str]) -> str:
    raw = _text(env, "TIMEZONE") or "UTC"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("TIMEZONE must be an IANA time zone such as UTC or Europe/Berlin.")\
            from None
    return raw


def parse_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from one mapping of names to strings (pure; used by tests)."""
    data_dir = _text(env, "EMBEDDED_DATA_DIR")
    return Settings(
        database_url=_postgres_url(env, "DATABASE_URL"),
        data_database_url=_postgres_url(env, "DATA_DATABASE_URL"),
        data_schemas=_schemas(env),
        reader_role=_identifier(env, "READER_ROLE", "dashboard_reader"),
        reader_database_url=_postgres_url(env, "READER_DATABASE_URL"),
        openai_api_key=_text(env, "OPENAI_API_KEY"),
        openai_base_url=_http_url(env, "OPENAI_BASE_URL"),
        openai_model=_text(env, "OPENAI_MODEL") or "gpt-4o-mini",
        openai_timeout_s=_number(env, "OPENAI_TIMEOUT_S", 60.0, 1, 600, float),
        ask_deadline_s=_number(env, "ASK_DEADLINE_S", 120.0, 1, 3600, float),
        generator=_choice(env, "GENERATOR", "auto", ("auto", "offline", "openai")),  # type: ignore[arg-type]
        query_timeout_ms=int(_number(env, "QUERY_TIMEOUT_MS", 10_000, 100, 3_600_000)),
        max_rows=int(_number(env, "MAX_ROWS", 10_000, 1, 5_000_000)),
        context_tokens=int(_number(env, "CONTEXT_TOKENS", 6000, 500, 1_000_000)),
        send_sample_values=_flag(env, "SEND_SAMPLE_VALUES", True),
        auth_mode=_choice(env, "AUTH_MODE", "username", ("username", "oidc")),  # type: ignore[arg-type]
        timezone=_timezone(env),
        pool_size=int(_number(env, "POOL_SIZE", 10, 1, 200)),
        pool_timeout_s=_number(env, "POOL_TIMEOUT_S", 10.0, 0.1, 600, float),
        data_dir=Path(data_dir).expanduser().resolve() if data_dir else PROJECT_DIR / ".data",
    )


def _streamlit_secrets() -> dict[str, str]:
    """Top-level scalar keys of st.secrets, only when a Streamlit script is running."""
    if "streamlit.runtime" not in sys.modules:  # no app running: skip importing Streamlit
        return {}  # (about a second of start-up for the CLI, e.g. check-sql)
    try:
        from streamlit import runtime

        if not runtime.exists():
            return {}
        import streamlit as st

        return {k: str(v) for k, v in st.secrets.to_dict().items() if not isinstance(v, dict)}
    except Exception:  # no secrets file, or not under Streamlit: nothing to add
        return {}


def collect_environment() -> dict[str, str]:
    """Merge st.secrets < .env < os.environ into one mapping."""
    from dotenv import dotenv_values

    merged: dict[str, str] = dict(_streamlit_secrets())
    env_file = PROJECT_DIR / ".env"
    if env_file.exists():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return parse_settings(collect_environment())
