"""``lemtrada-asp reviewer add``: a clinical reviewer's account for the review desk (serve's /desk/).

The account lives in the server's own store (the database ``serve`` uses: the same
--data-dir or --database), its password only as an Argon2 hash. The password is
asked for twice without echo, or read as one line from standard input with
--password-stdin (for scripts; never as an argument, which would sit in the
shell's history and the process list).
"""

from __future__ import annotations

import sys

import click

__all__ = ["reviewer"]


@click.group()
def reviewer() -> None:
    """Manage the review desk's reviewer accounts (in the server's database)."""


@reviewer.command("add")
@click.argument("name")
@click.option("--credentials", required=True, help='What the reviewer signs with, e.g. "MD, neurology".')
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Directory of the SQLite store, as serve takes it (default: the per-user data directory).")
@click.option("--database", default=None, metavar="URL", help="The store's database URL, as serve takes it.")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from standard input.")
def add(name: str, credentials: str, data_dir: str | None, database: str | None, password_stdin: bool) -> None:
    """Add reviewer NAME with CREDENTIALS; prompts for the password.

    Exit status: 0 added; 2 a bad name, credentials or password, the name already
    taken, or the store unusable.
    """
    try:
        from ..service.desk.auth import MIN_PASSWORD_LENGTH, hash_password
        from ..service.store import StoreError, open_store
        from ..service.store.desk import DeskRecords
    except ImportError as exc:
        click.echo(f"error: reviewer needs the service extra (pip install 'lemtrada-asp[service]'): {exc}", err=True)
        sys.exit(2)
    name, credentials = name.strip(), credentials.strip()
    for label, value in (("NAME", name), ("--credentials", credentials)):
        if not value or len(value) > 200 or not value.isprintable():
            click.echo(f"error: {label}: expected 1 to 200 printable characters, got {value!r}", err=True)
            sys.exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        click.echo(f"error: the password must have at least {MIN_PASSWORD_LENGTH} characters", err=True)
        sys.exit(2)
    try:
        store = open_store(database, data_dir)
        try:
            DeskRecords(store).add_reviewer(name, credentials, hash_password(password))
        finally:
            store.close()
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"reviewer {name} ({credentials}) added; they sign in at /desk/ of lemtrada-asp serve")
