"""`python -m hcs_api` is the `hcs-api` command."""

from hcs_api.cli import main

main(prog_name="hcs-api")
