"""What a turn needs before it is stored: its conversation and model (`setup`), then its
admission (`admit`): the API key's count, the user's limits and the user's own provider key.

    [conversation read, when one is named] -> resolve model -> the API key's cap, when the
    request came with one -> limits.admit (also authenticates) beside the own-key read
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from simplechat.chat.errors import ConversationNotFound, ModelTakesNoImages
from simplechat.chat.repository.conversations import ConversationRepository
from simplechat.chat.rules import generation_params, image_refusal
from simplechat.chat.types import Conversation, Sampling
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import KeyCharge, KeyGrant
from simplechat.limits.service import Admission, LimitService
from simplechat.llm.base import Provider
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.types import ChatMessage, GenerationParams, ModelSpec


@dataclass(frozen=True, slots=True)
class Setup:
    """What a turn needs before admission: its conversation (None: the default one, not
    read) and its model."""

    conversation: Conversation | None
    model: ModelSpec
    provider: Provider
    params: GenerationParams


@dataclass(frozen=True, slots=True)
class Admitted:
    """What a request took: from the user's limits, and from its API key's daily cap."""

    admission: Admission
    key: KeyGrant | None  # the API key the request came with
    key_charge: KeyCharge | None
    own_key: str | None  # the user's own provider key for this call (None: the server's)


class Admitter:
    def __init__(
        self,
        *,
        conversations: ConversationRepository,
        limits: LimitService,
        keys: KeyService,
        provider_keys: ProviderKeyService,
        registry: ProviderRegistry,
        clock: Callable[[], datetime],
    ) -> None:
        self._conversations = conversations
        self._limits = limits
        self._keys = keys
        self._provider_keys = provider_keys
        self._registry = registry
        self._clock = clock

    async def setup(
        self,
        user_id: str,
        conversation_id: str | None,
        model_name: str | None,
        sampling: Sampling,
        messages: Sequence[ChatMessage],
    ) -> Setup:
        """The conversation (404 for another user's or none) and the model, before admission."""
        conversation = None
        if conversation_id is not None:
            conversation = await self._conversations.get(user_id, conversation_id)
            if conversation is None:
                raise ConversationNotFound()
        model, provider = self._registry.resolve(
            model_name or (conversation.model if conversation else None)
        )
        refusal = image_refusal(model, messages)
        if refusal:
            raise ModelTakesNoImages(refusal)
        conversation_sampling = conversation.sampling if conversation else Sampling()
        params = generation_params(model, sampling, conversation_sampling)
        return Setup(conversation, model, provider, params)

    async def admit(
        self, user_id: str, setup: Setup, key: KeyGrant | None, *, epoch: int | None = None
    ) -> Admitted:
        """Count the call against the API key (if any), then admit it under the user's limits
        (at the access token's `epoch`: a revoked token is refused by the same update) while
        the user's own provider key is read (side by side: no added step). A refusal gives
        back whatever was taken."""
        charge = None if key is None else await self._keys.charge(key, setup.model.name)
        admitted, own_key = await asyncio.gather(
            self._limits.admit(user_id, self._clock(), epoch=epoch),
            self._provider_keys.key_for(
                user_id,
                setup.provider.name,
                server_key=self._registry.has_server_key(setup.provider.name),
            ),
            return_exceptions=True,
        )
        failure = next((r for r in (own_key, admitted) if isinstance(r, BaseException)), None)
        if failure is not None:
            if isinstance(admitted, Admission):
                await asyncio.shield(self._limits.give_back(admitted))
            if charge is not None:
                await asyncio.shield(self._keys.give_back(charge))
            raise failure
        assert isinstance(admitted, Admission)
        assert own_key is None or isinstance(own_key, str)
        return Admitted(admitted, key, charge, own_key)
