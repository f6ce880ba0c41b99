"""Customers from the CRM, their identities on each network, author links and timelines."""
