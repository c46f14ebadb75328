"""Settings: defaults, every bad value, and secrets never echoed."""

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.config import PROJECT_DIR, parse_settings
from dashboard.errors import ConfigError


def test_defaults_match_design() -> None:
    s = parse_settings({})
    assert s.database_url is None and s.embedded
    assert s.data_schemas == ("demo",)
    assert s.reader_role == "dashboard_reader"
    assert (s.query_timeout_ms, s.max_rows, s.context_tokens) == (10_000, 10_000, 6000)
    assert (s.openai_timeout_s, s.ask_deadline_s) == (60.0, 120.0)
    assert s.auth_mode == "username" and s.timezone == "UTC" and s.send_sample_values
    assert s.generator == "auto" and s.generator_in_use == "offline"
    assert s.data_dir == PROJECT_DIR / ".data"


def test_values_are_parsed_and_typed() -> None:
    s = parse_settings({
        "DATABASE_URL": "postgresql://app:pw@db.example.com:5432/app",
        "DATA_SCHEMAS": " sales , hr ",
        "MAX_ROWS": "500",
        "QUERY_TIMEOUT_MS": "2500",
        "SEND_SAMPLE_VALUES": "off",
        "AUTH_MODE": "OIDC",
        "TIMEZONE": "Europe/Berlin",
        "OPENAI_TIMEOUT_S": "2.5",
        "EMBEDDED_DATA_DIR": "/tmp/pb-data",
    })
    assert not s.embedded
    assert s.data_schemas == ("sales", "hr")
    assert (s.max_rows, s.query_timeout_ms) == (500, 2500)
    assert s.send_sample_values is False
    assert s.auth_mode == "oidc" and s.timezone == "Europe/Berlin"
    assert s.openai_timeout_s == 2.5
    assert s.data_dir == Path("/tmp/pb-data")


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "offline"),
    ({"OPENAI_API_KEY": "sk-test"}, "openai"),
    ({"OPENAI_BASE_URL": "http://localhost:11434/v1"}, "openai"),
    ({"OPENAI_API_KEY": "sk-test", "GENERATOR": "offline"}, "offline"),
    ({"GENERATOR": "openai"}, "openai"),
])
def test_generator_choice(env: dict[str, str], expected: str) -> None:
    assert parse_settings(env).generator_in_use == expected


SECRET = "hunter2-secret"


@pytest.mark.parametrize(("name", "value"), [
    ("MAX_ROWS", "abc"),
    ("MAX_ROWS", "0"),
    ("MAX_ROWS", "1.5"),
    ("QUERY_TIMEOUT_MS", "-1"),
    ("CONTEXT_TOKENS", "lots"),
    ("OPENAI_TIMEOUT_S", "soon"),
    ("SEND_SAMPLE_VALUES", "maybe"),
    ("AUTH_MODE", "ldap"),
    ("GENERATOR", "gpt"),
    ("TIMEZONE", "Mars/Olympus"),
    ("READER_ROLE", "Robert'); DROP TABLE students;--"),
    ("DATA_SCHEMAS", "demo, pg_catalog"),
    ("DATA_SCHEMAS", "demo; drop"),
    ("DATABASE_URL", f"mysql://root:{SECRET}@localhost/db"),
    ("DATABASE_URL", f"postgresql://u:{SECRET}@host:notaport/db"),
    ("DATABASE_URL", f"{SECRET}"),
    ("DATA_DATABASE_URL", f"http://u:{SECRET}@host/db"),
    ("READER_DATABASE_URL", f"postgresql://u:{SECRET}@[::1/db"),
    ("OPENAI_BASE_URL", f"ftp://{SECRET}@host"),
    ("OPENAI_BASE_URL", f"{SECRET}"),
])
def test_bad_values_name_the_setting_and_hide_the_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({name: value})
    message = caught.value.message
    assert name in message
    if len(value) > 2:  # a digit or two can appear in the allowed range itself
        assert value not in message
    assert SECRET not in message


def test_secrets_are_not_in_repr() -> None:
    s = parse_settings({
        "DATABASE_URL": f"postgresql://u:{SECRET}@h/db",
        "OPENAI_API_KEY": SECRET,
        "READER_DATABASE_URL": f"postgresql://r:{SECRET}@h/db",
    })
    assert SECRET not in repr(s)


def test_blank_values_mean_unset() -> None:
    s = parse_settings({"DATABASE_URL": "  ", "OPENAI_API_KEY": "", "MAX_ROWS": " "})
    assert s.database_url is None and s.openai_api_key is None and s.max_rows == 10_000


def test_reading_settings_does_not_load_streamlit() -> None:
    """Only dashboard/ui.py imports Streamlit: the CLI starts without loading it."""
    code = ("import sys; from dashboard.config import get_settings; get_settings(); "
            "print('streamlit' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
