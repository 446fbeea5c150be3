"""SCIM 2.0 provisioning (RFC 7643, RFC 7644): directories create, change and deactivate users.

A thin door over the action layer: `views` parses and answers, `mapping` turns a SCIM User into
the action layer's `UserInput` and back, `filters` turns a filter into one indexed query,
`patching` applies a PATCH to the user as stored, `discovery` describes what is supported.
"""
