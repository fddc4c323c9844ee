"""Regression tests of security findings (issue 8): each reproduces an attack that worked."""
