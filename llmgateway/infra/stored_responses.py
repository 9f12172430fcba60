"""Stored Responses-API answers in the SQL database: save, load and delete, each scoped to the key owner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from llmgateway.infra.db import db_call
from llmgateway.infra.models import StoredResponse


@dataclass(frozen=True, slots=True)
class Conversation:
    """A stored response and the input that led to it (the whole conversation, earlier turns included)."""

    response: dict[str, Any]
    input_items: list[dict[str, Any]]

    def history(self) -> list[dict[str, Any]]:
        """What a follow-up with `previous_response_id` continues from: the input, then the output items."""
        return [*self.input_items, *self.response.get("output", [])]


class ResponseStore:
    """Every database operation on stored responses. Another owner's response reads as absent, never as denied."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._engine = sessions.kw["bind"]

    def save(
        self, *, owner: str, api_key_id: str | None, response: dict[str, Any], input_items: Sequence[dict[str, Any]]
    ) -> None:
        row = StoredResponse(
            id=response["id"],
            owner=owner,
            api_key_id=api_key_id,
            created_at=datetime.now(UTC).replace(tzinfo=None),
            model=str(response.get("model") or "")[:256],
            response=response,
            input_items=list(input_items),
        )

        def write() -> None:
            with self._sessions() as session, session.begin():
                session.merge(row)

        db_call(self._engine, write)

    def load(self, response_id: str, owner: str) -> Conversation | None:
        """The owner's stored response, or None when it does not exist or belongs to another owner."""
        if not _plausible(response_id):
            return None

        def read() -> Conversation | None:
            with self._sessions() as session:
                row = session.scalar(
                    select(StoredResponse).where(StoredResponse.id == response_id, StoredResponse.owner == owner)
                )
                return Conversation(row.response, row.input_items) if row is not None else None

        return db_call(self._engine, read)

    def delete(self, response_id: str, owner: str) -> bool:
        """Whether the owner's response existed (and is now gone)."""
        if not _plausible(response_id):
            return False

        def remove() -> bool:
            with self._sessions() as session, session.begin():
                result = session.execute(
                    delete(StoredResponse).where(StoredResponse.id == response_id, StoredResponse.owner == owner)
                )
                return bool(cast(CursorResult[Any], result).rowcount)

        return db_call(self._engine, remove)


def _plausible(response_id: str) -> bool:
    """Ids longer than the column or holding NUL (which PostgreSQL rejects in text) cannot exist."""
    return 0 < len(response_id) <= 64 and "\x00" not in response_id
