"""The named actions through which every write of clients, users and templates goes.

Web pages, the command line and bulk actions call these; none of them saves
a model itself. Each action checks the rules (`deskgate.accounts.rules`) inside the
transaction that writes, with the client's row locked so that concurrent writes for one
client are serialised (R4 holds under concurrency), and records the audit event (R9).
Refusals raise `django.core.exceptions.ValidationError` keyed by field name, or
`PermissionDenied`. State the sign-in app keeps (codes, remembered devices, locks) is
changed through `deskgate.accounts.hooks`, never by importing it.

By noun: `clients`, `users` (one user), `bulk` (many users), `own` (a user's own Email or
Work phone), `sign_outs` (a user's own sessions and devices), `passwords`, `templates`,
`invitations`. Import the package (`from deskgate.accounts import actions`); every public
action is here.
"""

from deskgate.accounts.actions.bulk import BulkOutcome, bulk_change_mfa_method
from deskgate.accounts.actions.client_details import ClientChanged, change_client
from deskgate.accounts.actions.clients import (
    FactorPolicy,
    create_client,
    update_client_settings,
)
from deskgate.accounts.actions.invitations import (
    accept_invitation,
    invite,
    resend_invitation,
    revoke_invitation,
    set_invitation_hours,
    set_invite_directory_users,
)
from deskgate.accounts.actions.own import (
    change_own_contact,
    change_own_preferences,
    check_own_contact,
)
from deskgate.accounts.actions.passwords import set_password
from deskgate.accounts.actions.retention import purge_audit, set_audit_retention
from deskgate.accounts.actions.sign_outs import (
    end_other_sessions,
    end_own_session,
    forget_ended_sessions,
    forget_own_device,
)
from deskgate.accounts.actions.templates import TemplateInput, save_template
from deskgate.accounts.actions.users import (
    DirectoryAttributes,
    UserInput,
    UserSaved,
    change_mfa_method,
    change_user,
    create_user,
    delete_user,
    end_sessions,
    note_email_proven,
    revoke_devices,
    set_user_active,
    sign_out_everywhere,
    unlock_user,
    update_user,
)

__all__ = [
    "BulkOutcome",
    "ClientChanged",
    "DirectoryAttributes",
    "FactorPolicy",
    "accept_invitation",
    "invite",
    "resend_invitation",
    "revoke_invitation",
    "set_invitation_hours",
    "set_invite_directory_users",
    "TemplateInput",
    "UserInput",
    "UserSaved",
    "bulk_change_mfa_method",
    "change_client",
    "change_mfa_method",
    "change_user",
    "change_own_contact",
    "change_own_preferences",
    "check_own_contact",
    "create_client",
    "create_user",
    "delete_user",
    "end_other_sessions",
    "end_own_session",
    "end_sessions",
    "forget_ended_sessions",
    "forget_own_device",
    "note_email_proven",
    "revoke_devices",
    "purge_audit",
    "save_template",
    "set_audit_retention",
    "set_password",
    "set_user_active",
    "sign_out_everywhere",
    "unlock_user",
    "update_client_settings",
    "update_user",
]
