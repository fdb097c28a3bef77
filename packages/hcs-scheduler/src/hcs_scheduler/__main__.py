"""`python -m hcs_scheduler`: the same as the `hcs-scheduler` command."""

from hcs_scheduler.cli import main

main()
