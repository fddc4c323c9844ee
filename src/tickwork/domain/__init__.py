"""The domain: pure rules about schedules and runs, with no I/O."""
