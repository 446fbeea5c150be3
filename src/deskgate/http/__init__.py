"""The web kit below the apps: what signin, sso and the admin pages (web) all use.

The form base (`forms.Form`), the guards (`guards.admin_pages`, `admins_only`,
`acting_user`, `forbidden`), the audit actor of a request (`actors.actor_for`, `client_ip`),
the middleware (Content-Security-Policy, idle and absolute session timeouts), the context
processor, the error pages (`errors.server_error`), `base.html`, the field partials
(`http/_field.html`, `http/_form_errors.html`) and the static files. It imports only the
layers below it (accounts, delivery); see tests/test_architecture.py.
"""
