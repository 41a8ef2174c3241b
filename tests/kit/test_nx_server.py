"""The embedded server's launch adjustments (kit/nx_server.py) keep what clients read back
exactly as before: ObjectIds at any depth, cursors over many batches, and replies bson cannot
encode directly."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import MongoClient, ReturnDocument

from simplechat.kit.embedded import EmbeddedMongo

REPO = Path(__file__).resolve().parents[2]


def test_documents_and_cursors_read_back_unchanged(tmp_path: Path) -> None:
    with EmbeddedMongo(tmp_path) as server:
        client: MongoClient[dict[str, Any]] = MongoClient(server.uri)
        oid = ObjectId()
        doc = {"_id": 1, "o": oid, "l": [oid, {"deep": oid}], "n": {"id": 0}, "s": "text"}
        client.t.x.insert_one(doc)
        assert client.t.x.find_one({"_id": 1}) == doc
        client.t.x.insert_many([{"_id": i, "o": ObjectId()} for i in range(2, 300)])
        assert len(list(client.t.x.find({}).batch_size(7))) == 299  # getMore after getMore
        updated = client.t.x.find_one_and_update(
            {"_id": 1}, {"$set": {"p": oid}}, {"p": 1}, return_document=ReturnDocument.AFTER
        )
        assert updated == {"_id": 1, "p": oid}
        client.close()


def test_a_reply_bson_cannot_encode_directly_takes_the_original_conversion() -> None:
    script = (
        "from decimal import Decimal; import bson\n"
        "from simplechat.kit import nx_server; nx_server._adjust()\n"
        "from nx_27017.wire_protocol import ResponseBuilder\n"
        "reply = ResponseBuilder.build_op_msg_reply(1, 2, {'ok': 1, 'd': Decimal('1.5')})\n"
        "print(bson.decode(reply[21:])['d'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "1.5"
