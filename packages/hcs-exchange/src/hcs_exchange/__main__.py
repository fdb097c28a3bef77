"""`python -m hcs_exchange` is the `hcs-exchange` command."""

from hcs_exchange.cli import main

main(prog_name="hcs-exchange")
