"""Local stand-ins for Reddit, Mastodon, an SMTP server and a webhook receiver."""
