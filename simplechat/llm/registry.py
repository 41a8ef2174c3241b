"""Which provider answers which model, decided once at startup.

`build_registry(settings, session)` creates a provider for each configured upstream (OpenRouter
and DashScope when their key is set, the OpenAI-compatible server when its base URL is set) and
always the mock. `registry.resolve(name)` then gives the model's spec and its provider.

When no real provider is configured at all, every model is answered by the mock (`using_mock`),
so a new server can chat at once; the replies say so. Otherwise a model whose provider is not
configured is refused with `InvalidInput`, and so is an unknown model name.

Users' own provider keys (SIMPLECHAT_BYOK `allowed` or `required`): each vendor the server
has no key for is built anyway, keyless (`byok`): its models are offered and answered with
the caller's own key (`has_server_key` tells chat whether the server could answer without
one). With `required`, these count as real providers: no mock stands in for them.

Each real provider is wrapped in a `GatedProvider`: at most SIMPLECHAT_MAX_UPSTREAM_REQUESTS
provider requests per worker at once, the next refused with 503 (`llm.capacity`). `resolve`
refuses already when every slot is taken, so an overloaded worker sheds a message before it
admits, stores or loads anything for it.

The application owns the aiohttp session: create it with `make_http_session(settings)` inside
the running loop, close it after `registry.aclose()`.
"""

import logging
from collections.abc import Mapping

import aiohttp

from simplechat.config import Settings
from simplechat.kit.errors import InvalidInput
from simplechat.llm.base import Provider
from simplechat.llm.capacity import GatedProvider, UpstreamGate
from simplechat.llm.catalog import load_catalog
from simplechat.llm.mock import MOCK_MODEL_NOTE, MOCK_NAME, NO_KEY_NOTE, MockProvider
from simplechat.llm.retry import RetryPolicy
from simplechat.llm.types import ModelKind, ModelSpec
from simplechat.llm.vendors import VENDORS

DNS_CACHE_SECONDS = 300

log = logging.getLogger("simplechat.providers")


class ProviderRegistry:
    """Model name -> (ModelSpec, Provider). `providers` is keyed by provider name and must
    include the mock. Raises ValueError if `default_model` is not in the catalog."""

    def __init__(
        self,
        catalog: Mapping[str, ModelSpec],
        providers: Mapping[str, Provider],
        default_model: str,
        gate: UpstreamGate | None = None,
        byok: Mapping[str, Provider] | None = None,
        byok_only: bool = False,
    ) -> None:
        if default_model not in catalog:
            raise ValueError(f"The default model {default_model!r} is not in the model catalog")
        if catalog[default_model].kind is not ModelKind.CHAT:
            raise ValueError(f"The default model {default_model!r} is not a chat model")
        self._catalog = dict(catalog)
        self._providers = dict(providers)
        self._byok = dict(byok or {})  # keyless: for callers who bring their own key
        real = set(self._providers) - {MOCK_NAME}
        self.using_mock = not real and not (byok_only and self._byok)
        self.default_model = self._usable_default(default_model)
        self.gate = gate

    def resolve(
        self, model_name: str | None, kind: ModelKind = ModelKind.CHAT
    ) -> tuple[ModelSpec, Provider]:
        """The spec and provider for `model_name` (None: the default model) of `kind`.

        Raises InvalidInput for an unknown name, a model of another kind (an embedding model
        asked to chat, or the reverse), or a model whose provider is not configured while
        some real provider is (with none configured, the mock answers); UpstreamCapacity
        when the provider's requests already fill this worker's gate.
        """
        name = model_name or self.default_model
        spec = self._catalog.get(name)
        if spec is None or spec.kind is not kind:
            names = self._names(kind)
            problem = (
                f"Unknown model {name!r}"
                if spec is None
                else f"Model {name!r} is {_a(spec.kind)} model, not {_a(kind)} model"
            )
            raise InvalidInput(
                f"{problem}. Available {kind.value} models: {names}.",
                extra={"available_models": [m.name for m in self.models(kind)]},
            )
        provider = self._providers.get(spec.provider)
        if provider is None and not self.using_mock:  # the mock answers for every vendor
            provider = self._byok.get(spec.provider)
        if provider is not None:
            if self.gate is not None and provider.name != MOCK_NAME:
                self.gate.check(provider.name)
            return spec, provider
        if self.using_mock:
            return spec, self._providers[MOCK_NAME]
        raise InvalidInput(
            f"Model {name!r} needs the {spec.provider} provider, which is not configured on "
            f"this server. Available {kind.value} models: {self._names(kind)}.",
            extra={"available_models": [m.name for m in self.models(kind)]},
        )

    def has_server_key(self, provider: str) -> bool:
        """Whether `provider` answers without the caller's own key (the server's, or the
        mock standing in)."""
        return self.using_mock or provider in self._providers

    def models(self, kind: ModelKind | None = None) -> list[ModelSpec]:
        """The models this server can answer (of `kind`; None: every kind), in catalog
        order."""
        return [
            m
            for m in self._catalog.values()
            if self._answerable(m) and (kind is None or m.kind is kind)
        ]

    async def aclose(self) -> None:
        for provider in (*self._providers.values(), *self._byok.values()):
            await provider.aclose()

    def _answerable(self, spec: ModelSpec) -> bool:
        return self.using_mock or spec.provider in self._providers or spec.provider in self._byok

    def _names(self, kind: ModelKind) -> str:
        return ", ".join(m.name for m in self.models(kind))

    def _usable_default(self, default_model: str) -> str:
        """The configured default, or else the first model a configured real provider serves
        (else the first one users' own keys serve)."""
        spec = self._catalog[default_model]
        if self._answerable(spec) and self.has_server_key(spec.provider):
            return default_model
        real_models = [m for m in self.models(ModelKind.CHAT) if m.provider != MOCK_NAME]
        served = [m.name for m in real_models if self.has_server_key(m.provider)]
        if not served and self._answerable(spec):
            return default_model  # only users' own keys answer: the configured one is fine
        real = served or [m.name for m in real_models]
        if not real:  # resolve(None) will then say which provider is missing
            return default_model
        fallback = real[0]
        log.warning("provider.registry.default_model_unavailable configured=%s using=%s",
                    default_model, fallback)  # fmt: skip
        return fallback


def _a(kind: ModelKind) -> str:
    return ("an " if kind.value[0] in "aeiou" else "a ") + kind.value


def build_registry(settings: Settings, session: aiohttp.ClientSession) -> ProviderRegistry:
    """Providers for every configured upstream plus the mock, over the shared `session`.

    Raises ValueError when the models file or the default model is invalid.
    """
    retry = RetryPolicy(
        max_retries=settings.upstream_max_retries,
        backoff_seconds=settings.upstream_backoff_seconds,
        max_retry_after_seconds=settings.upstream_max_retry_after_seconds,
    )
    gate = UpstreamGate(settings.max_upstream_requests)
    providers: dict[str, Provider] = {
        vendor.name: GatedProvider(vendor.build(settings, session, retry), gate)
        for vendor in VENDORS
        if vendor.configured(settings)
    }
    note = MOCK_MODEL_NOTE if providers else NO_KEY_NOTE
    providers[MOCK_NAME] = MockProvider(note=note)  # in process: it holds no connection
    byok: dict[str, Provider] = {}
    if settings.byok != "off":
        byok = {
            vendor.name: GatedProvider(vendor.build_byok(settings, session, retry), gate)
            for vendor in VENDORS
            if vendor.build_byok is not None and vendor.name not in providers
        }
    registry = ProviderRegistry(
        load_catalog(settings.models_file),
        providers,
        settings.default_model,
        gate,
        byok=byok,
        byok_only=settings.byok == "required",
    )
    log.info("provider.registry.built providers=%s using_mock=%s",
             ",".join(providers), registry.using_mock)  # fmt: skip
    return registry


def make_http_session(settings: Settings) -> aiohttp.ClientSession:
    """The one outbound HTTP session, with explicit connect/read timeouts.

    Its connection pool is not capped (aiohttp's default of 100 would queue requests silently):
    the registry's gate bounds the requests in flight, and refuses beyond them. Call it inside
    the running event loop; the caller closes it.
    """
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=settings.connect_timeout_seconds,
        sock_read=settings.read_timeout_seconds,
    )
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=DNS_CACHE_SECONDS)
    return aiohttp.ClientSession(timeout=timeout, connector=connector)
