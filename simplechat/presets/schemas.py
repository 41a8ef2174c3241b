"""Preset wire models."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from simplechat.kit.http import RequestModel
from simplechat.llm.types import Role
from simplechat.presets.types import Preset, PresetDraft, PresetMessage, PresetParams

MAX_MESSAGES = 50
MAX_CONTENT_CHARS = 32_000


class PresetMessageIn(BaseModel):
    role: Literal["system", "user", "assistant"] = Field(examples=["system"])
    content: str = Field(
        min_length=1,
        max_length=MAX_CONTENT_CHARS,
        examples=["You are a patient tutor. Answer with one short question back."],
    )
    visible: bool = Field(
        default=True, description="False: sent to the model, never shown in conversations"
    )

    def to_domain(self) -> PresetMessage:
        return PresetMessage(Role(self.role), self.content, self.visible)


class PresetParameters(BaseModel):
    model: str | None = Field(
        default=None, examples=["mistralai/mistral-7b-instruct"], description="A catalog model"
    )
    temperature: float | None = Field(default=None, ge=0, le=2, examples=[0.7])
    top_p: float | None = Field(default=None, gt=0, le=1, examples=[0.9])
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000, examples=[512])

    def to_domain(self) -> PresetParams:
        return PresetParams(self.model, self.temperature, self.top_p, self.max_tokens)

    @classmethod
    def from_domain(cls, params: PresetParams) -> "PresetParameters":
        return cls(
            model=params.model,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
        )


class PresetCreate(RequestModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"\S", examples=["Tutor"])
    description: str = Field(default="", max_length=500, examples=["Asks before it tells"])
    messages: list[PresetMessageIn] = Field(default_factory=list, max_length=MAX_MESSAGES)
    parameters: PresetParameters = Field(default_factory=PresetParameters)
    public: bool = Field(default=False, description="Everyone's preset (admins only)")

    def to_domain(self) -> PresetDraft:
        return PresetDraft(
            name=self.name,
            description=self.description,
            messages=tuple(m.to_domain() for m in self.messages),
            params=self.parameters.to_domain(),
            public=self.public,
        )


class PresetUpdate(RequestModel):
    """What to change; what is left out stays. `parameters` replaces all four at once."""

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"\S")
    description: str | None = Field(default=None, max_length=500)
    messages: list[PresetMessageIn] | None = Field(default=None, max_length=MAX_MESSAGES)
    parameters: PresetParameters | None = None


class PresetMessagePublic(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str
    visible: bool


class PresetPublic(BaseModel):
    id: str = Field(examples=["6b01b59ab1945f3903016ee2"])
    name: str = Field(examples=["Caring companion"])
    description: str
    messages: list[PresetMessagePublic] = Field(
        description="Invisible messages are shown only to who may edit the preset"
    )
    parameters: PresetParameters
    public: bool
    builtin: str | None = Field(
        description='"plain" or "caring" for the two built-in presets', examples=["caring"]
    )
    mine: bool = Field(description="You own it (private presets only)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, preset: Preset, user_id: str) -> "PresetPublic":
        return cls(
            id=preset.id,
            name=preset.name,
            description=preset.description,
            messages=[
                PresetMessagePublic(role=m.role.value, content=m.content, visible=m.visible)
                for m in preset.messages
            ],
            parameters=PresetParameters.from_domain(preset.params),
            public=preset.public,
            builtin=preset.builtin,
            mine=not preset.public and preset.owner_id == user_id,
            created_at=preset.created_at,
            updated_at=preset.updated_at,
        )


class PresetDeleted(BaseModel):
    id: str
    deleted: Literal[True] = True
