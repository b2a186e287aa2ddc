"""piyasa scheduler: who speaks, when, to whom and about what.

- `state`: the fleet and its chats, folded from the log (`FleetState.apply_*`).
- `core`: `tick(fleet, chat, now, rng) -> [Request | Expire]`, the pure scheduling core,
  with `pacing` (due slots along `activity`'s rate curve), `speaker`, `target`, `topic`,
  `context` (what a request carries) and `ledger` (turns in flight).
- `harness`: the core on a virtual clock with a simulated world.
- `runtime`, `main`: the service's edge (followers, partition leases, tickers, publishing).
"""
