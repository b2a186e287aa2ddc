"""Operators' authentication: API keys, passwords with TOTP, short-lived bearer tokens, roles."""

from piyasa_config.auth.roles import Principal, Role
from piyasa_config.auth.store import AuthStore, IssuedKey, IssuedSession, NewOperator

__all__ = ["AuthStore", "IssuedKey", "IssuedSession", "NewOperator", "Principal", "Role"]
