"""Attacks on the running product through HTTP (issue 5); see SECURITY.md."""
