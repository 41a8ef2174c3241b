"""The media capability's errors (drawn in the tree of `kit.errors`)."""

from simplechat.kit.errors import (
    BadRequest,
    InvalidInput,
    PayloadTooLarge,
    SimpleChatError,
    UnsupportedMediaType,
)


class NotAudio(UnsupportedMediaType):
    code = "not_audio"


class NotAPicture(UnsupportedMediaType):
    code = "not_a_picture"


class CorruptMedia(InvalidInput):
    """A file of the right kind that cannot be read: corrupt, truncated, empty, odd PCM."""

    code = "corrupt_media"


class MediaTooLong(InvalidInput):
    code = "media_too_long"


class TooManyPixels(InvalidInput):
    """A picture larger (in pixels) than the server decodes: a pixel bomb or a huge scan."""

    code = "too_many_pixels"


class MediaTooLarge(PayloadTooLarge):
    code = "media_too_large"


class UnknownModel(BadRequest):
    code = "model_not_found"


class EngineUnavailable(SimpleChatError):
    """No engine is installed or configured for this kind of media."""

    status_code = 503
    code = "engine_unavailable"
