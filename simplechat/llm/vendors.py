"""The upstreams simplechat can use: adding a vendor means a module with a `VENDOR` and a line
here. The registry builds the configured ones, the catalog checks model providers against
them, and check-config describes them."""

from simplechat.llm import dashscope, openai_compat, openrouter
from simplechat.llm.base import Vendor
from simplechat.llm.mock import MOCK_NAME
from simplechat.llm.types import CHAT_PARAMETERS

VENDORS: tuple[Vendor, ...] = (openrouter.VENDOR, dashscope.VENDOR, openai_compat.VENDOR)
# What a model's `provider` may be: a vendor, or the built-in mock.
PROVIDER_NAMES: frozenset[str] = frozenset({v.name for v in VENDORS} | {MOCK_NAME})
# The providers whose adapter sends OpenAI-style image parts (the mock counts them).
IMAGE_PROVIDER_NAMES: frozenset[str] = frozenset(
    {v.name for v in VENDORS if v.sends_images} | {MOCK_NAME}
)
# What a chat model takes by default, by provider (a models file entry may say otherwise).
CHAT_PARAMETER_DEFAULTS: dict[str, frozenset[str]] = {
    **{v.name: v.chat_parameters for v in VENDORS},
    MOCK_NAME: CHAT_PARAMETERS,
}
