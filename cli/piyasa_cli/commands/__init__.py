"""The `piyasa` subcommands, one module each; `piyasa_cli.main` assembles them."""
