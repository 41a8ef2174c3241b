"""The `presets` collection: a prompt (system and few-shot messages) with model parameters.

A preset is public (`scope` "public", managed by admins) or private (`scope` the owner's id),
so "the public ones" and "mine" are each an equality on one single-field index. The two built-in
presets carry `builtin` ("plain", "caring"), unique: seeding them at every start is an upsert
that parallel workers cannot double.
"""

from datetime import datetime

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow

PUBLIC_SCOPE = "public"


class PresetMessageEmbedded(BaseModel):
    role: str  # "system" | "user" | "assistant"
    content: str
    visible: bool = True  # False: never shown to users who cannot edit the preset


class PresetDoc(Document):
    scope: str  # PUBLIC_SCOPE, or the owner's id as hex
    owner_id: str
    builtin: str | None = None
    name: str
    description: str = ""
    messages: list[PresetMessageEmbedded] = Field(default_factory=list)
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_ms: int = 0

    class Settings:
        name = "presets"
        indexes = [
            IndexModel([("scope", ASCENDING)], name="scope"),
            IndexModel(
                [("builtin", ASCENDING)],
                name="builtin_unique",
                unique=True,
                # Only the built-ins have a name here; every other preset stores null.
                partialFilterExpression={"builtin": {"$type": "string"}},
            ),
        ]
