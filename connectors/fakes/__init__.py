"""Local servers that speak the Reddit and Mastodon wire formats, for tests and the demo."""
