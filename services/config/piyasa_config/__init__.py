"""piyasa config service."""
