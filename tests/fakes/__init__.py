"""Fakes of external systems that speak their real wire protocols, reusable by any test."""
