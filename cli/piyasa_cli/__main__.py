"""`python -m piyasa_cli` is `piyasa`."""

from piyasa_cli.main import cli

cli(prog_name="piyasa")
