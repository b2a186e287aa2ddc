"""piyasa scheduler service."""
