from shopsense.cli import run

run()
