"""piyasa dispatcher service."""
