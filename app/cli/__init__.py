"""The `gtm` command line: the same graph and services as the web app, for people and scripts."""
