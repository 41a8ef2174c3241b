"""Fixtures for the media tests: the app with the local engines (models loaded once per test
session: the worker processes outlive each app), and fakes for the remote engines."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_media import FakeOpenAIMedia

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
async def openai_media() -> AsyncIterator[FakeOpenAIMedia]:
    async with FakeOpenAIMedia() as fake:
        yield fake
