"""What the tests share: the one ``require`` for outside dependencies, the waits, the
database fixtures' helpers, the CLI runners, the server launcher, and the test apps."""
