"""piyasa guard service."""
