"""Channels beyond the telephone: adapters that carry contacts in and out of hotline
(e-mail, webhooks to messaging modules). A bottom layer: imports none of the project's
packages; the live edge and the shell wire it to the ACD and the history."""
