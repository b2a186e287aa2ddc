"""piyasa dispatcher: posts approved messages to Telegram exactly once, at a human pace and
inside Telegram's limits, and turns Telegram updates into events."""
