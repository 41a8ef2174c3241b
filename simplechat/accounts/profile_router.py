"""The caller's own account: profile, password, deletion, avatar; and anyone's avatar."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response, status
from starlette.datastructures import UploadFile

from simplechat.accounts.dependencies import AccountServiceDep, CurrentUser
from simplechat.accounts.errors import InvalidImage, LastAdmin, NoPassword
from simplechat.accounts.images import AVATAR_CONTENT_TYPES, AVATAR_SIZE
from simplechat.accounts.schemas import (
    AccountDelete,
    AvatarInfo,
    PasswordChange,
    ProfileUpdate,
    TokenResponse,
    UserPublic,
)
from simplechat.accounts.throttles import AVATAR_429, PASSWORD_429
from simplechat.accounts.types import Avatar
from simplechat.kit.errors import (
    InvalidCredentials,
    InvalidInput,
    KeyNotAllowed,
    UnsupportedMediaType,
)
from simplechat.kit.executors import DECODER_BUSY
from simplechat.kit.http import error_responses

router = APIRouter(tags=["user"])
# Every route here manages the account: a personal API key gets 403 (see dependencies.py).
KEY_403 = {403: [KeyNotAllowed()]}
KEY_403_TEXT = {403: "A personal API key cannot manage the account: use an access token"}

_BINARY = {"schema": {"type": "string", "format": "binary"}}
AVATAR_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The image as the body (with its Content-Type), or a multipart `file`",
        "content": {
            **dict.fromkeys(AVATAR_CONTENT_TYPES, _BINARY),
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}
JPEG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": _BINARY}, "description": "A 128x128 JPEG"},
    304: {"description": "Not modified (the If-None-Match ETag is current)"},
}


async def avatar_upload(request: Request) -> bytes:
    """The uploaded image: the raw body, or the multipart form's `file` field."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("Send the image in a multipart field named 'file'.")
            return await upload.read()
    if content_type in AVATAR_CONTENT_TYPES:
        return await request.body()
    raise UnsupportedMediaType(
        "Send the image as the body with Content-Type "
        f"{', '.join(AVATAR_CONTENT_TYPES)}, or as the multipart/form-data field 'file'."
    )


AvatarUpload = Annotated[bytes, Depends(avatar_upload)]
IfNoneMatch = Annotated[str | None, Header(description="An ETag you have: 304 if current")]


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _jpeg(avatar: Avatar, if_none_match: str | None) -> Response:
    headers = {"ETag": avatar.etag, "Cache-Control": "no-cache"}
    if _etag_matches(if_none_match, avatar.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(avatar.data, media_type="image/jpeg", headers=headers)


@router.get(
    "/user/me",
    response_model=UserPublic,
    summary="Who am I",
    responses=error_responses(401, 403, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def read_me(user: CurrentUser) -> UserPublic:
    """Return the account the Bearer token belongs to (no secret fields)."""
    return UserPublic.from_domain(user)


@router.patch(
    "/user/me",
    response_model=UserPublic,
    summary="Change my profile",
    responses=error_responses(401, 403, 422, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def update_me(
    body: ProfileUpdate, user: CurrentUser, accounts: AccountServiceDep
) -> UserPublic:
    """Change your email or display name (null clears one; fields left out stay)."""
    return UserPublic.from_domain(await accounts.update_profile(user, body.to_domain()))


@router.post(
    "/user/me/password",
    response_model=TokenResponse,
    summary="Change my password",
    response_description="New tokens for this client: every other token stops working",
    responses=error_responses(
        401,
        403,
        422,
        429,
        examples={
            401: [InvalidCredentials("The current password is not right.")],
            **KEY_403,
            429: [PASSWORD_429],
        },
        descriptions={**KEY_403_TEXT, 429: "Too many password checks for this account"},
    ),
)
async def change_password(
    body: PasswordChange, user: CurrentUser, accounts: AccountServiceDep
) -> TokenResponse:
    """Change your password (send the current one): every other session ends, and every
    access token issued before stops working at once. Your personal API keys keep working
    unless you send `revoke_keys: true` (then they are deleted)."""
    pair = await accounts.change_password(
        user, old=body.old_password, new=body.new_password, revoke_keys=body.revoke_keys
    )
    return TokenResponse.from_domain(pair)


@router.post(
    "/user/me/logout-everywhere",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Log out everywhere",
    responses=error_responses(401, 403, examples=KEY_403, descriptions=KEY_403_TEXT),
)
async def log_out_everywhere(user: CurrentUser, accounts: AccountServiceDep) -> None:
    """End every session of your account: every refresh token and every access token (this
    one too) stops working at once, on every server. Personal API keys keep working."""
    await accounts.log_out_everywhere(user)


@router.delete(
    "/user/me",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete my account",
    responses=error_responses(
        401,
        403,
        409,
        422,
        429,
        examples={409: [LastAdmin(), NoPassword()], **KEY_403, 429: [PASSWORD_429]},
        descriptions={
            409: "The last admin, or an account without a password",
            **KEY_403_TEXT,
            429: "Too many password checks for this account",
        },
    ),
)
async def delete_me(body: AccountDelete, user: CurrentUser, accounts: AccountServiceDep) -> None:
    """Delete your account and everything it owns (history, avatar, tokens), for good."""
    await accounts.delete_account(user, password=body.password)


@router.put(
    "/user/me/avatar",
    response_model=AvatarInfo,
    summary="Set my avatar",
    response_description="Stored as a 128x128 JPEG",
    openapi_extra=AVATAR_UPLOAD,
    responses=error_responses(
        400,
        401,
        403,
        413,
        415,
        422,
        429,
        503,
        examples={
            422: [InvalidImage("The image is truncated or corrupt.")],
            **KEY_403,
            429: [AVATAR_429],
            503: [DECODER_BUSY],
        },
        descriptions={
            422: "Not an image simplechat can read, truncated, or too many pixels",
            **KEY_403_TEXT,
            429: "Too many avatar uploads",
            503: "The server decodes as many uploads as it can: try again shortly",
        },
    ),
)
async def set_avatar(
    user: CurrentUser, upload: AvatarUpload, accounts: AccountServiceDep
) -> AvatarInfo:
    """Upload a JPEG, PNG, WebP or GIF (at most 5 MB): it is turned upright, centre-cropped
    and stored as a 128x128 JPEG without metadata."""
    avatar = await accounts.set_avatar(user, upload)
    return AvatarInfo(
        url=f"/users/{user.username}/avatar",
        etag=avatar.etag,
        width=AVATAR_SIZE,
        height=AVATAR_SIZE,
    )


@router.get(
    "/user/me/avatar",
    response_class=Response,
    summary="My avatar",
    responses={
        **JPEG_RESPONSE,
        **error_responses(401, 403, 404, examples=KEY_403, descriptions=KEY_403_TEXT),
    },
)
async def read_my_avatar(
    user: CurrentUser, accounts: AccountServiceDep, if_none_match: IfNoneMatch = None
) -> Response:
    """Your avatar as a 128x128 JPEG, with an ETag."""
    return _jpeg(await accounts.avatar(user), if_none_match)


@router.get(
    "/users/{username}/avatar",
    response_class=Response,
    summary="A user's avatar",
    responses={**JPEG_RESPONSE, **error_responses(404)},
)
async def read_avatar(
    username: Annotated[str, Path(examples=["eric"])],
    accounts: AccountServiceDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Anyone's avatar as a 128x128 JPEG, with an ETag (public, like a profile picture)."""
    return _jpeg(await accounts.avatar_of(username), if_none_match)
