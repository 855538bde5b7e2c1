"""One module per subcommand of ``lemtrada-asp``; each registers itself on ``cli.main``."""
