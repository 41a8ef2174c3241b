"""Fixtures for the provider tests: fake upstreams on 127.0.0.1 and one aiohttp session."""

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.dashscope import FakeDashScope
from tests.fakes.openrouter import FakeOpenRouter

TEST_TIMEOUT = aiohttp.ClientTimeout(sock_connect=2, sock_read=2)


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TEST_TIMEOUT) as session:
        yield session


@pytest.fixture
async def openrouter_fake() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture
async def dashscope_fake() -> AsyncIterator[FakeDashScope]:
    async with FakeDashScope() as fake:
        yield fake
