from hcs_agent.cli import main

main()
