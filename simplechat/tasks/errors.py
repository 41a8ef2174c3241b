"""What can go wrong with tasks (see the tree in kit/errors.py). The last four end a task's
stream as its error event; they are never a response's status."""

from simplechat.kit.errors import Conflict, NotFound, SimpleChatError


class TaskNotFound(NotFound):
    code = "task_not_found"
    default_message = "No such task."


class StreamAlreadyClaimed(Conflict):
    code = "stream_already_claimed"
    default_message = (
        "This task's stream was already claimed: each task is streamed once. To resume a "
        "dropped stream, send the task's stream_token (?stream_token= or X-Stream-Token) with "
        "Last-Event-ID; GET /tasks/{id} shows its text."
    )


class TaskFinished(Conflict):
    code = "task_finished"
    default_message = "The task has already finished; there is nothing to cancel."


class TaskAbandoned(SimpleChatError):
    status_code = 503
    code = "task_abandoned"
    default_message = (
        "The worker answering this task stopped (its lease expired): the task failed and "
        "what it took was given back."
    )


class TaskCancelled(SimpleChatError):
    status_code = 409
    code = "task_cancelled"
    default_message = "The task was cancelled."


class ServerStopped(SimpleChatError):
    status_code = 503
    code = "server_stopped"
    default_message = "The server stopped before the task was done; what was written is kept."


class StreamTimeout(SimpleChatError):
    status_code = 504
    code = "stream_timeout"
    default_message = "The stream waited too long for the task; read it with GET /tasks/{id}."
