"""piyasa backbone library."""
