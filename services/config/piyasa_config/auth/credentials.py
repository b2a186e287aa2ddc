"""Hashing and checking operators' credentials. Pure functions, no I/O.

Passwords are low-entropy, so they get argon2id (slow on purpose). API keys
and bearer tokens are 256 random bits each: brute-forcing a sha256 of one is
as hopeless as guessing it, so a fast hash is enough, and it lets every
request find its key with one indexed lookup instead of an argon2
verification (~50 ms) per request.
"""

from __future__ import annotations

import hashlib
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password: equalises the time of unknown usernames")

API_KEY_PREFIX = "pk_"
TOTP_ISSUER = "piyasa"
TOTP_STEP_S = 30


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the operator exists (`password_hash` None)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_bearer_token() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """sha256 hex of a high-entropy secret (an API key or a bearer token)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, at_unix: float) -> int | None:
    """The time step `code` is valid for (this one or one either side), else None.

    The caller stores the step it accepted and refuses it, or an earlier one,
    the next time: a code works once.
    """
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_S)
    now_step = int(at_unix // TOTP_STEP_S)
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.at(step * TOTP_STEP_S), code):
            return step
    return None
