"""The task service, as an Annotated alias."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.tasks.service import TaskService


async def get_task_service(request: Request) -> TaskService:
    service: TaskService = request.state.tasks
    return service


TaskServiceDep = Annotated[TaskService, Depends(get_task_service)]
