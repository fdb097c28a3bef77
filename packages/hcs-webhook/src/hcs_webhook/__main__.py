from hcs_webhook.cli import main

main()
