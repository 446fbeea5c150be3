"""Django's PostgreSQL backend, with the health check of a kept connection only after it
has been idle (`base.DatabaseWrapper`)."""
