from bronze_sync.cli import run

run()
