"""Real servers on loopback for the tests: an SMTP server (aiosmtpd) and Kannel with fakesmsc.

`fixtures.py` holds the pytest fixtures; `smtp.py` and `kannel.py` can also be used on their own.
"""
