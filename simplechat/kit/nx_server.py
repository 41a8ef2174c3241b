"""The embedded database's own process: `python -m simplechat.kit.nx_server <nx-27017 options>`.

It runs nx-27017's `main`, as the package's own command does, after three adjustments made
here at launch (the installed package itself is left as it is). Each one is measured in
docs/benchmarks.md ("What each database command costs"):

1. Commands run on the server's event loop instead of in a worker thread. nx-27017 hands every
   command to `asyncio.to_thread` and then serialises all of them behind one lock, so the thread
   hop buys no parallelism and costs CPU on every command.
2. bson encodes neosqlite's ObjectId as an ObjectId. bson recognises its own types by a
   `_type_marker` (7 is ObjectId, whose 12 bytes it reads from `.binary`, as neosqlite's has).
   Without it, sizing each reply document (`BSON.encode`) fails on that type and falls back to
   `repr()` for every document returned.
3. Replies are then encoded as they are: nx-27017 walks every value of every reply to convert
   those ObjectIds (and decimals, which simplechat never stores); only the cursor id still needs
   converting (a 64-bit 0). A reply that bson still cannot encode takes the original walk.

It also asks the kernel to stop it when the process that started it exits, however that exits
(uvicorn re-raises SIGTERM after its shutdown, which skips `finally` blocks), and logs warnings
only: the server's INFO lines describe every command, which costs CPU and disk.
"""

import asyncio
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

PARENT_ENV = "SIMPLECHAT_EMBEDDED_PARENT"
PR_SET_PDEATHSIG = 1
BSON_OBJECTID_MARKER = 7


async def _inline(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _tie_to_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(os.environ.get(PARENT_ENV, os.getppid())):
        sys.exit(0)  # the parent is already gone


def _adjust() -> None:
    from bson.errors import InvalidDocument
    from bson.int64 import Int64
    from neosqlite.objectid import ObjectId as NeoObjectId
    from nx_27017 import utils, wire_protocol

    asyncio.to_thread = _inline  # 1. (only nx-27017's server uses it in this process)
    NeoObjectId._type_marker = BSON_OBJECTID_MARKER  # 2.

    def cursor_id_only(document: Any) -> Any:  # 3.
        cursor = document.get("cursor") if isinstance(document, dict) else None
        if isinstance(cursor, dict) and cursor.get("id") == 0:
            return {**document, "cursor": {**cursor, "id": Int64(0)}}
        return document

    build = wire_protocol.ResponseBuilder.build_op_msg_reply

    def build_op_msg_reply(
        request_id: int, response_to: int, document: dict[str, Any], flags: int = 0
    ) -> bytes:
        try:
            reply: bytes = build(request_id, response_to, document, flags)
        except InvalidDocument:  # something bson cannot encode: nx-27017's own conversion
            converted = utils.convert_neo_to_bson_objectids(document)
            reply = build(request_id, response_to, converted, flags)
        return reply

    wire_protocol._convert_objectids = cursor_id_only
    wire_protocol.ResponseBuilder.build_op_msg_reply = staticmethod(build_op_msg_reply)


def main() -> None:
    _tie_to_parent()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    _adjust()
    from nx_27017.nx_27017 import main as nx_main

    sys.argv[0] = "nx-27017"
    nx_main()


if __name__ == "__main__":
    main()
