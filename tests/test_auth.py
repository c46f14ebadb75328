"""Identity mapping and OIDC configuration checks (pure functions)."""

import pytest

from dashboard import auth, store
from dashboard.errors import ConfigError, InvalidInput

GOOD_AUTH = {"redirect_uri": "https://x/oauth2callback", "cookie_secret": "s",
             "client_id": "id", "client_secret": "cs",
             "server_metadata_url": "https://idp/.well-known/openid-configuration"}


@pytest.mark.parametrize(("email", "expected"), [
    ("Ana@Example.com", "ana@example.com"),
    ("  ana+reports@example.co.uk ", "ana+reports@example.co.uk"),
    ("o'brien.j@sub.example.org", "o'brien.j@sub.example.org"),
])
def test_identity_mapping(email: str, expected: str) -> None:
    assert auth.identity_from_user_info({"is_logged_in": True, "email": email}) == expected


@pytest.mark.parametrize("info", [
    {"is_logged_in": True},
    {"is_logged_in": True, "email": ""},
    {"is_logged_in": True, "email": "not-an-email"},
    {"is_logged_in": True, "email": "a@b"},
    {"is_logged_in": True, "email": "a b@example.com"},
    {"is_logged_in": True, "email": "x" * 250 + "@example.com"},
    {"is_logged_in": True, "email": "ana@example.com", "email_verified": False},
    {"is_logged_in": False, "email": "ana@example.com"},
    {"is_logged_in": True, "email": "ana@example.com\x00"},
])
def test_identity_mapping_rejects(info: dict) -> None:
    with pytest.raises(InvalidInput):
        auth.identity_from_user_info(info)


def test_identity_users_are_distinct_from_usernames(db) -> None:
    a = store.get_or_create_identity(db, auth.normalize_identity("Ana+x@example.com"))
    b = store.get_or_create_identity(db, auth.normalize_identity("ana+x@example.com"))
    assert a == b and a.username == "ana+x@example.com"
    with pytest.raises(InvalidInput):  # username mode never accepts such a name
        store.get_or_create_user(db, "ana+x@example.com")


def test_oidc_config_checks() -> None:
    auth.check_oidc_config(GOOD_AUTH)
    auth.check_oidc_config({"redirect_uri": "r", "cookie_secret": "c",
                            "google": {k: v for k, v in GOOD_AUTH.items()
                                       if k not in {"redirect_uri", "cookie_secret"}}})
    with pytest.raises(ConfigError, match=r"no \[auth\] section"):
        auth.check_oidc_config(None)
    with pytest.raises(ConfigError, match="client_secret"):
        auth.check_oidc_config({k: v for k, v in GOOD_AUTH.items() if k != "client_secret"})


@pytest.mark.parametrize(("address", "exposed"), [
    (None, True), ("0.0.0.0", True), ("127.0.0.1", False), ("localhost", False),
    ("::1", False), ("192.168.1.5", True), ("myhost", True),
])
def test_exposure_detection(address: str | None, exposed: bool) -> None:
    assert auth.listens_beyond_loopback(address) is exposed
