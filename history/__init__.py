"""The shared cross-channel customer history (importable by chat and e-mail modules)."""
