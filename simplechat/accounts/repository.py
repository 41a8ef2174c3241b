"""UserRepository: accounts in the `users` collection."""

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo.errors import DuplicateKeyError

from simplechat.accounts.types import User
from simplechat.documents.users import UserDoc
from simplechat.kit.errors import UsernameTaken


def _to_domain(doc: UserDoc) -> User:
    return User(id=str(doc.id), username=doc.username, role=doc.role, created_at=doc.created_at)


class UserRepository:
    async def create(self, *, username: str, password_hash: str) -> User:
        doc = UserDoc(username=username, password_hash=password_hash)
        try:
            await doc.insert()
        except DuplicateKeyError as exc:
            raise UsernameTaken(f"The username '{username}' is already taken.") from exc
        return _to_domain(doc)

    async def get_with_hash(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, for logging in."""
        doc = await UserDoc.find_one(UserDoc.username == username)
        if doc is None or doc.disabled:
            return None
        return _to_domain(doc), doc.password_hash

    async def get(self, user_id: str) -> User | None:
        try:
            oid = PydanticObjectId(user_id)
        except (InvalidId, TypeError):
            return None
        doc = await UserDoc.get(oid)
        if doc is None or doc.disabled:
            return None
        return _to_domain(doc)
