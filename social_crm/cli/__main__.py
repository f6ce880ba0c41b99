"""python -m social_crm.cli: the social-crm command."""

from social_crm.cli import main

main()
