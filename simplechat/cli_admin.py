"""`simplechat admin create|promote|demote USERNAME`: admins from the command line.

The first admin can only come from here: no admin account or password exists by default.
`create` asks for the password twice (or reads one line from stdin when it is not a
terminal, for scripts: `echo "$PASSWORD" | simplechat admin create alice`). Each command
calls the admin service, so it is checked and audited like the same action over HTTP. With
the embedded database it also works while `simplechat serve` runs (it uses that server's).
"""

import argparse
import asyncio
import getpass
import logging
import sys
from typing import Any, TextIO

from simplechat.admin.types import COMMAND_LINE
from simplechat.config import get_settings
from simplechat.kit.embedded import EmbeddedServerError
from simplechat.kit.errors import SimpleChatError
from simplechat.lifespan import running_services

ACTIONS = {
    "create": "create an admin account (the password is asked for, or read from stdin)",
    "promote": "make an existing user an admin",
    "demote": "make an admin a normal user again (never the last admin)",
}


def add_admin_commands(commands: "argparse._SubParsersAction[Any]") -> None:
    admin = commands.add_parser("admin", help="create, promote or demote admins")
    actions = admin.add_subparsers(dest="admin_command", required=True)
    for name, help_text in ACTIONS.items():
        action = actions.add_parser(name, help=help_text)
        action.add_argument("username")


def read_password(stdin: TextIO) -> str | None:
    """Twice from the terminal (None if they differ), or one line from a pipe."""
    if stdin.isatty():
        first = getpass.getpass("Password for the new admin: ")
        again = getpass.getpass("Repeat it: ")
        return first if first == again else None
    return stdin.readline().rstrip("\r\n")


async def _run(command: str, username: str, password: str | None) -> str:
    async with running_services(get_settings(), attach_running=True) as services:
        if command == "create":
            assert password is not None
            user = await services.admin.create_admin(username=username, password=password)
            return f"Created admin '{user.username}' (level {user.level})."
        if command == "promote":
            user = await services.admin.promote(COMMAND_LINE, username)
            return f"'{user.username}' is an admin (level {user.level})."
        user = await services.admin.demote(COMMAND_LINE, username)
        return f"'{user.username}' is a normal user (level {user.level})."


def run_admin(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    password = None
    if args.admin_command == "create":
        password = read_password(stdin)
        if password is None:
            print("simplechat: the passwords do not match.", file=sys.stderr)
            return 1
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the server's start-up notes are not this command's
    try:
        message = asyncio.run(_run(args.admin_command, args.username, password))
    except (SimpleChatError, EmbeddedServerError) as exc:
        print(f"simplechat: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    finally:
        logging.disable(previous)
    print(message)
    return 0
