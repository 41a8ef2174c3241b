"""Conversation wire models: conversations, their messages, exports and the model list."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simplechat.billing.types import to_credits
from simplechat.chat.schemas import CapabilitiesPublic
from simplechat.chat.types import Conversation, PresetSnapshot, StoredMessage
from simplechat.kit.http import RequestModel
from simplechat.kit.pagination import Page
from simplechat.llm.pricing import Price
from simplechat.llm.types import ContentPart, ModelSpec, PartType

ID_EXAMPLE = "6b01b59ab1945f3903016ee2"


class ConversationCreate(RequestModel):
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"\S",
        examples=["Planning a trip to Lyon"],
        description="Left out: made from the first message",
    )
    preset_id: str | None = Field(
        default=None,
        examples=[ID_EXAMPLE],
        description="A preset (GET /presets) whose messages and parameters the conversation "
        "keeps a copy of",
    )
    model: str | None = Field(
        default=None,
        examples=["mistralai/mistral-7b-instruct"],
        description="A catalog model (GET /llm/models); else the preset's, else the default",
    )


class ConversationUpdate(RequestModel):
    """What to change; what is left out stays, null sets a setting back to the default."""

    title: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"\S", examples=["Lyon in May"]
    )
    model: str | None = Field(default=None, examples=["openchat/openchat-7b"])
    temperature: float | None = Field(default=None, ge=0, le=2, examples=[0.7])
    top_p: float | None = Field(default=None, gt=0, le=1, examples=[0.9])
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000, examples=[512])

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class RegenerateRequest(RequestModel):
    model: str | None = Field(
        default=None,
        examples=["mistralai/mistral-7b-instruct"],
        description="Answer with another model this time; the conversation's when omitted",
    )
    stream: bool = Field(default=False, description="Answer with server-sent events")


class SnapshotMessagePublic(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class PresetSnapshotPublic(BaseModel):
    id: str = Field(examples=[ID_EXAMPLE])
    name: str = Field(examples=["Caring companion"])
    description: str
    messages: list[SnapshotMessagePublic] = Field(description="Its visible messages")

    @classmethod
    def from_domain(cls, preset: PresetSnapshot) -> "PresetSnapshotPublic":
        return cls(
            id=preset.id,
            name=preset.name,
            description=preset.description,
            messages=[
                SnapshotMessagePublic(role=m.role.value, content=m.content)
                for m in preset.messages
                if m.visible
            ],
        )


class ConversationPublic(BaseModel):
    id: str = Field(examples=[ID_EXAMPLE])
    title: str = Field(examples=["Planning a trip to Lyon"])
    default: bool = Field(description="Your default conversation (messages sent without one)")
    model: str | None = Field(description="Its model; null: the server's default")
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    preset: PresetSnapshotPublic | None = Field(description="The preset it was made from")
    message_count: int = Field(description="Messages stored, hidden answers included")
    input_tokens: int = Field(description="Your messages' tokens")
    output_tokens: int = Field(description="The answers' tokens")
    total_tokens: int = Field(description="input_tokens + output_tokens")
    prompt_tokens: int = Field(
        description="What the model read over every answer (history and preset included)"
    )
    bill: Decimal = Field(
        description="Credits: the sum of its answers' costs (4 decimal places)",
        examples=["0.1250"],
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, c: Conversation) -> "ConversationPublic":
        return cls(
            id=c.id,
            title=c.title,
            default=c.is_default,
            model=c.model,
            temperature=c.sampling.temperature,
            top_p=c.sampling.top_p,
            max_tokens=c.sampling.max_tokens,
            preset=PresetSnapshotPublic.from_domain(c.preset) if c.preset else None,
            message_count=c.message_count,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            total_tokens=c.total_tokens,
            prompt_tokens=c.prompt_tokens,
            bill=to_credits(c.bill),
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ImageUrlPublic(BaseModel):
    url: str


class TextPartPublic(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ImagePartPublic(BaseModel):
    type: Literal["image_url"] = "image_url"
    image_url: ImageUrlPublic


PartPublic = TextPartPublic | ImagePartPublic


def part_public(part: ContentPart) -> PartPublic:
    if part.type is PartType.TEXT:
        return TextPartPublic(text=part.text)
    return ImagePartPublic(image_url=ImageUrlPublic(url=part.url))


class MessagePublic(BaseModel):
    id: str = Field(examples=[ID_EXAMPLE])
    conversation_id: str
    role: Literal["system", "user", "assistant"]
    content: str | list[PartPublic] = Field(
        description="The text, or OpenAI-style parts when the message has images",
        examples=["hi, my name is Eric"],
    )
    input_tokens: int = Field(description="A message of yours: its tokens")
    output_tokens: int = Field(description="An answer: its tokens")
    total_tokens: int
    prompt_tokens: int = Field(description="An answer: what the model read to write it")
    cost: Decimal = Field(
        description="An answer: its cost in credits at its model's price (4 decimal places)",
        examples=["0.0310"],
    )
    model: str
    status: Literal["complete", "incomplete", "unanswered"]
    visible: bool
    created_at: datetime

    @classmethod
    def from_domain(cls, m: StoredMessage) -> "MessagePublic":
        content: str | list[PartPublic] = m.text
        if m.parts is not None:
            content = [part_public(part) for part in m.parts]
        return cls(
            id=m.id,
            conversation_id=m.conversation_id,
            role=m.role.value,
            content=content,
            input_tokens=m.input_tokens,
            output_tokens=m.output_tokens,
            total_tokens=m.input_tokens + m.output_tokens,
            prompt_tokens=m.prompt_tokens,
            cost=to_credits(m.cost),
            model=m.model,
            status=m.status.value,
            visible=m.visible,
            created_at=m.created_at,
        )


class ConversationDetail(ConversationPublic):
    messages: Page[MessagePublic] = Field(description="The first page of its messages")


class ConversationExport(BaseModel):
    conversation: ConversationPublic
    messages: list[MessagePublic]


class ConversationDeleted(BaseModel):
    id: str
    deleted: Literal[True] = True
    messages_deleted: int = Field(description="How many messages went with it")


class PriceTierPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_tokens: int = Field(alias="from", description="Prompts of at least this many tokens")
    to_tokens: int | None = Field(alias="to", description="and fewer than this (null: open)")
    input: Decimal = Field(description="Credits per 1,000 prompt tokens", examples=["0.8"])
    output: Decimal = Field(description="Credits per 1,000 output tokens", examples=["2"])


class PricePublic(BaseModel):
    input: Decimal = Field(
        description="Credits per 1,000 prompt tokens (a tiered price: its first tier's)",
        examples=["0.8"],
    )
    output: Decimal = Field(
        description="Credits per 1,000 output tokens (a tiered price: its first tier's)",
        examples=["2"],
    )
    tiers: list[PriceTierPublic] = Field(description="Every tier, by prompt tokens")

    @classmethod
    def from_domain(cls, price: Price | None) -> "PricePublic | None":
        if price is None:
            return None
        tiers = [
            PriceTierPublic(
                from_tokens=t.from_tokens, to_tokens=t.to_tokens, input=t.input, output=t.output
            )
            for t in price.tiers
        ]
        return cls(input=tiers[0].input, output=tiers[0].output, tiers=tiers)


class ModelPublic(BaseModel):
    name: str = Field(examples=["mistralai/mistral-7b-instruct"])
    provider: str = Field(examples=["openrouter"])
    kind: Literal["chat", "embedding"] = Field(
        examples=["chat"],
        description="chat: /llm and /v1/chat/completions; embedding: /v1/embeddings",
    )
    context_window: int = Field(examples=[32768])
    max_output_tokens: int = Field(examples=[4096], description="0 for embedding models")
    takes_images: bool = Field(description="Reads image parts in messages")
    capabilities: CapabilitiesPublic
    supported_parameters: list[str] = Field(
        examples=[["max_tokens", "stop", "temperature", "tools", "top_p"]],
        description="The request parameters it takes (OpenRouter's names); another is a 400 "
        "unsupported_parameter, or dropped with drop_params",
    )
    dimensions: int | None = Field(
        default=None, examples=[None], description="An embedding model's vector size"
    )
    default: bool = Field(description="Used when a request names no model")
    description: str
    price: PricePublic | None = Field(
        default=None, description="What it costs, in credits (SIMPLECHAT_MODELS_FILE); null: free"
    )

    @classmethod
    def from_domain(cls, spec: ModelSpec, default: str) -> "ModelPublic":
        return cls(
            name=spec.name,
            provider=spec.provider,
            kind=spec.kind.value,
            context_window=spec.context_window,
            max_output_tokens=spec.max_output_tokens,
            takes_images=spec.takes_images,
            capabilities=CapabilitiesPublic.from_domain(spec),
            supported_parameters=sorted(spec.supported_parameters),
            dimensions=spec.dimensions,
            default=spec.name == default,
            description=spec.description,
            price=PricePublic.from_domain(spec.price),
        )
