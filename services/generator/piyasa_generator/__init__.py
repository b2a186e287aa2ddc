"""piyasa generator service."""
