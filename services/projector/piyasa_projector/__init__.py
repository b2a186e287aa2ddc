"""piyasa projector service."""
