"""Who may delete a question: the live bank is the publishers' to change, drafts their author's.

A question that is published in any exam is part of what students are served; taking it out
needs the same roles as retiring a version (publisher or admin). An author without those roles
may delete only a question they created that is live nowhere (their draft).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbank.errors import PermissionDeniedError
from qbank.services.access.auth import Principal
from qbank.store.models import Question, QuestionPublication

__all__ = ["BANK_EDITORS", "check_may_delete"]

BANK_EDITORS = ("publisher", "admin")


def check_may_delete(session: Session, question: Question, by: Principal) -> None:
    """Raise unless ``by`` may delete ``question`` (call inside the deleting transaction).

    Raises:
        PermissionDeniedError: the question is live somewhere, or another author's draft, and
            the caller is neither publisher nor admin.
    """
    if by.has_any(*BANK_EDITORS):
        return
    live = session.scalar(
        select(QuestionPublication.exam_code)
        .where(QuestionPublication.question_id == question.id)
        .limit(1)
    )
    if live is not None:
        raise PermissionDeniedError(
            f"question {question.id} is published (in {live}); deleting it needs the publisher "
            "or admin role"
        )
    if question.created_by != by.user_id:
        raise PermissionDeniedError(
            f"question {question.id} is another author's draft; an author deletes their own"
        )
