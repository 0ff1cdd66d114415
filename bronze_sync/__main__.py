from bronze_sync.cli import main

main()
