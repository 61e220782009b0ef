"""Signing in to the web pages: users and roles, sessions, CSRF, and the login page."""
