"""EmbeddingService: vectors for texts, through the model's provider.

    resolve the model (an embedding model of the catalog) -> screen `dimensions` -> the
    inputs as texts (token ids decoded), each within the model's window -> the API key's
    allow-list and daily cap, when the request came with one -> limits.admit (also
    authenticates) beside the user's own provider key -> provider.embed

An embedding call is admitted like a chat message: it counts against the key's daily cap and
the user's daily and burst limits, and a call that fails gives both back. (A quota of its own
and credits per input token come with the shared reservation of the chat path.)
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from simplechat.embeddings.rules import input_problem, texts_of, too_long
from simplechat.embeddings.types import EmbeddingRequest, EmbeddingResult
from simplechat.keys.service import KeyService, ProviderKeyService
from simplechat.keys.types import KeyCharge, KeyGrant
from simplechat.kit.errors import InvalidInput
from simplechat.limits.service import Admission, LimitService
from simplechat.llm.parameters import screen_embedding
from simplechat.llm.registry import ProviderRegistry
from simplechat.llm.tokens import TokenCounter
from simplechat.llm.types import EmbeddingParams, ModelKind, Usage


class EmbeddingService:
    def __init__(
        self,
        *,
        registry: ProviderRegistry,
        limits: LimitService,
        keys: KeyService,
        provider_keys: ProviderKeyService,
        counter: TokenCounter,
        decode: Callable[[Sequence[int]], str],
        drop_unsupported: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._limits = limits
        self._keys = keys
        self._provider_keys = provider_keys
        self._counter = counter
        self._decode = decode
        self._drop = drop_unsupported
        self._clock = clock

    async def embed(
        self,
        user_id: str,
        request: EmbeddingRequest,
        key: KeyGrant | None = None,
        *,
        epoch: int | None = None,
    ) -> EmbeddingResult:
        """One vector per input. 422 for unusable inputs (or an unknown or chat model), 400
        for a `dimensions` the model cannot take; the key's and the user's limits as for a
        chat message."""
        model, provider = self._registry.resolve(request.model, ModelKind.EMBEDDING)
        drop = request.drop_unsupported or self._drop
        params = screen_embedding(
            model, EmbeddingParams(request.dimensions, request.user), drop=drop
        )
        problem = input_problem(request.inputs)
        if problem is not None:
            raise InvalidInput(problem)
        try:
            texts = texts_of(request.inputs, self._decode)
        except ValueError as exc:
            raise InvalidInput(f"input holds token ids that are not cl100k_base's: {exc}") from None
        counts = [self._counter.count(text) for text in texts]
        over = too_long(counts, model.context_window)
        if over is not None:
            raise InvalidInput(
                f"input[{over}] is {counts[over]} tokens; {model.name} reads at most "
                f"{model.context_window} per input."
            )
        charge, admission, own_key = await self._admit(
            user_id, provider.name, model.name, key, epoch
        )
        try:
            result = await provider.embed(model, texts, replace(params, api_key=own_key))
        except BaseException:
            await asyncio.shield(self._give_back(admission, charge))
            raise
        usage = result.usage or Usage(sum(counts), 0)
        return EmbeddingResult(model.name, result.vectors, usage, estimated=result.usage is None)

    async def _admit(
        self, user_id: str, vendor: str, model: str, key: KeyGrant | None, epoch: int | None
    ) -> tuple[KeyCharge | None, Admission, str | None]:
        """The key's count, then the user's limits beside their own provider key; a refusal
        gives back whatever was taken."""
        charge = None if key is None else await self._keys.charge(key, model)
        admitted, own_key = await asyncio.gather(
            self._limits.admit(user_id, self._clock(), epoch=epoch),
            self._provider_keys.key_for(
                user_id, vendor, server_key=self._registry.has_server_key(vendor)
            ),
            return_exceptions=True,
        )
        failure = next((r for r in (own_key, admitted) if isinstance(r, BaseException)), None)
        if failure is not None:
            await asyncio.shield(
                self._give_back(admitted if isinstance(admitted, Admission) else None, charge)
            )
            raise failure
        assert isinstance(admitted, Admission)
        assert own_key is None or isinstance(own_key, str)
        return charge, admitted, own_key

    async def _give_back(self, admission: Admission | None, charge: KeyCharge | None) -> None:
        if admission is not None:
            await self._limits.give_back(admission)
        if charge is not None:
            await self._keys.give_back(charge)
