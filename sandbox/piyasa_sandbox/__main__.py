"""`python -m piyasa_sandbox`: the same as the `piyasa-sandbox` command."""

from .server import main

main()
