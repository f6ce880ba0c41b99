"""The periodic jobs, one module each; any process can run any of them."""
