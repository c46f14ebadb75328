"""Who is signed in: username mode (the seed's proof-of-concept model) or OIDC.

Username mode is *not* authentication: anyone may type any name. OIDC mode uses
Streamlit's `st.login()` / `st.user` (pages call those); this module holds the pure parts:
checking the `[auth]` configuration and mapping an identity to a `users.username`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from dashboard.errors import ConfigError, InvalidInput

# RFC 5322 is looser, but identity providers hand out addresses of this shape; '+' and
# dots in the local part are common (tags, aliases) and must keep working.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
MAX_IDENTITY_CHARS = 255  # users.username is VARCHAR(255)
REQUIRED_AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret",
                      "server_metadata_url")


def check_oidc_config(auth_section: Mapping[str, Any] | None) -> None:
    """Raise ConfigError naming what is missing from the `[auth]` secrets section."""
    if not auth_section:
        raise ConfigError(
            "AUTH_MODE is oidc but .streamlit/secrets.toml has no [auth] section "
            f"(it needs {', '.join(REQUIRED_AUTH_KEYS)})."
        )
    # A named provider ([auth.google]) may hold the client settings instead.
    providers = [v for v in auth_section.values() if isinstance(v, Mapping)]
    present = set(auth_section) | {k for p in providers for k in p}
    missing = [key for key in REQUIRED_AUTH_KEYS if key not in present]
    if missing:
        raise ConfigError(f"The [auth] secrets section lacks: {', '.join(missing)}.")


def normalize_identity(email: str | None) -> str:
    """The users.username for an OIDC identity: its e-mail, trimmed and lower-cased."""
    value = unicodedata.normalize("NFC", str(email or "")).strip().lower()
    if not value:
        raise InvalidInput("Your identity provider did not share an e-mail address.")
    if len(value) > MAX_IDENTITY_CHARS or not _EMAIL.match(value):
        raise InvalidInput("Your identity provider's e-mail address is not one we can use.")
    return value


def identity_from_user_info(info: Mapping[str, Any]) -> str:
    """Map `st.user` (OIDC claims) to a username; only verified e-mails are trusted."""
    if not info.get("is_logged_in", True):
        raise InvalidInput("You are not signed in.")
    if info.get("email_verified") is False:
        raise InvalidInput("Your identity provider has not verified your e-mail address.")
    return normalize_identity(info.get("email"))


def listens_beyond_loopback(address: str | None) -> bool:
    """True when the server address lets other machines reach it (for the warning)."""
    if not address or address in {"0.0.0.0", "::", "*"}:  # Streamlit's default: all
        return True
    if address == "localhost":
        return False
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True  # a host name: assume reachable
