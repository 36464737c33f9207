from ketacli.cli.app import run

run()
