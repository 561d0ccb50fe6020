"""Demo and test fixtures: sample landing zones, the demo police API server, the local cluster.

Fenced off (`.importlinter`): only the CLI, the tests and the bench import it; nothing that
runs in production does.
"""
