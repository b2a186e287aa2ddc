"""The piyasa command."""
