"""The keys capability's errors (see the tree in kit/errors.py)."""

from simplechat.kit.errors import BadRequest, Forbidden, NotAuthenticated, NotFound


class ApiKeyRefused(NotAuthenticated):
    code = "invalid_api_key"
    default_message = "The API key is not valid: it is unknown, disabled, expired or deleted."


class KeyLockedByAdmin(Forbidden):
    code = "key_locked"
    default_message = "An admin disabled this key: only an admin can enable it again."


class ModelNotAllowed(Forbidden):
    code = "model_not_allowed"


class ApiKeyNotFound(NotFound):
    default_message = "No such API key."


class ProviderKeyMissing(BadRequest):
    code = "provider_key_required"
