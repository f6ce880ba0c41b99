"""social-crm: listen to social networks for brands, understand, link, escalate and engage."""
