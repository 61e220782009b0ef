"""Admin pages: users and roles, the ACD's agents and queue rules, recorded prompts, the
price/offer catalog (edited through ``hotline.config_edit``), and the audit log."""
