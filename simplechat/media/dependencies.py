"""The media service, the caller and the uploaded file, as Annotated aliases."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import (
    UploadFile,
)  # what Request.form() gives (FastAPI's subclasses it)

from simplechat.accounts.dependencies import CurrentPrincipal, TokenOrKeyUser
from simplechat.accounts.types import User
from simplechat.keys.dependencies import caller_of
from simplechat.keys.types import KeyGrant
from simplechat.kit.errors import InvalidInput
from simplechat.media.rules import media_type
from simplechat.media.service import MediaService
from simplechat.media.types import Upload


async def get_media_service(request: Request) -> MediaService:
    service: MediaService = request.state.media
    return service


MediaServiceDep = Annotated[MediaService, Depends(get_media_service)]


@dataclass(frozen=True, slots=True)
class MediaCaller:
    """The user, and the personal API key they called with (its daily cap counts the call)."""

    user: User
    key: KeyGrant | None = None


async def get_media_caller(principal: CurrentPrincipal, user: TokenOrKeyUser) -> MediaCaller:
    """The caller: an access token's user, or a personal key's user and the key's grant (the
    key read once, the user once)."""
    return MediaCaller(user, caller_of(principal).key)


CurrentMediaCaller = Annotated[MediaCaller, Depends(get_media_caller)]


async def read_upload(request: Request) -> Upload:
    """The uploaded file: the raw body with its content type, or the `file` part of a
    multipart/form-data body with the part's content type."""
    content_type = request.headers.get("content-type")
    if media_type(content_type) == "multipart/form-data":
        form = await request.form()
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise InvalidInput("A multipart body needs the file in a part named `file`.")
        return Upload(await part.read(), part.content_type)
    return Upload(await request.body(), content_type)


UploadBody = Annotated[Upload, Depends(read_upload)]
