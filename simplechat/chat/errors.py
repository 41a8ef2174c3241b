"""What can go wrong with conversations (see the tree in kit/errors.py)."""

from simplechat.kit.errors import Conflict, InvalidInput, NotFound


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    default_message = "No such conversation."


class NothingToRegenerate(Conflict):
    code = "nothing_to_regenerate"
    default_message = "The conversation has no message to answer again."


class ModelTakesNoImages(InvalidInput):
    code = "model_takes_no_images"
