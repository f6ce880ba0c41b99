"""Accounts: the people who use the web dashboard and the API, their roles, sessions and tokens."""
