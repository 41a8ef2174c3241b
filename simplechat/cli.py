"""The `simplechat` command: serve the API (and, later, inspect the configuration)."""

import argparse
import logging
import os
from collections.abc import Sequence

from simplechat.config import get_settings
from simplechat.storage.embedded import EmbeddedMongo
from simplechat.storage.secret_file import load_or_create_secret

log = logging.getLogger("simplechat")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simplechat", description="A lightweight chat API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    return parser


def serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(message)s")
    embedded: EmbeddedMongo | None = None
    if settings.mongodb_uri is None:
        # One embedded database for all workers: started here, handed to them as MONGODB_URI.
        embedded = EmbeddedMongo(settings.data_dir).start()
        os.environ["MONGODB_URI"] = embedded.uri
        log.info("simplechat.embedded_database uri=%s data_dir=%s", embedded.uri, settings.data_dir)
    if settings.jwt_secret is None:
        load_or_create_secret(settings.data_dir)  # created once, before workers race for it
    try:
        uvicorn.run(
            "simplechat.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args.host, args.port, args.workers)
    return 2
