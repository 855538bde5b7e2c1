"""``lemtrada-asp token``: a test key pair and a signed bearer token for ``serve --jwks``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_SCOPE = "system/Claim.write system/*.read"


@click.command()
@click.option("--keys", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("lemtrada-keys"),
              show_default=True, help="Directory of the key pair: made (private.pem, jwks.json) if it holds none.")
@click.option("--client", default="test-client", show_default=True, help="The client id (the token's iss and sub).")
@click.option("--scope", default=DEFAULT_SCOPE, show_default=True, help="Space-separated SMART system scopes.")
@click.option("--audience", default="http://127.0.0.1:8080", show_default=True, metavar="URL",
              help="The service's URL (serve's --audience, by default http://HOST:PORT).")
@click.option("--lifetime", type=click.IntRange(min=1, max=86_400), default=300, show_default=True,
              help="Seconds until the token expires.")
def token(directory: Path, client: str, scope: str, audience: str, lifetime: int) -> None:
    """Print a bearer token signed by a test key pair (made in --keys if missing).

    For trying the service, not for production: a real deployment takes its
    clients' public keys into the JWKS file. Two commands:

    \b
      TOKEN=$(lemtrada-asp token)        # makes lemtrada-keys/ the first time
      lemtrada-asp serve --jwks lemtrada-keys/jwks.json
      curl -H "Authorization: Bearer $TOKEN" ...

    Exit status: 0 printed; 4 the key files could not be read or written.
    """
    from ..service.auth import JWKS_FILE, make_keys, mint

    try:
        if make_keys(directory):
            click.echo(f"made a test key pair: {directory / JWKS_FILE} (for serve --jwks) and "
                       f"{directory / 'private.pem'} (keep it secret)", err=True)
        click.echo(mint(directory, client, scope, audience, lifetime))
    except (OSError, ValueError, KeyError) as exc:
        click.echo(f"error: cannot use the keys in {directory}: {exc}", err=True)
        sys.exit(4)
