"""Accounts: sign-in, users, API keys and classes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonDict

from profai.db.models import ApiKey, User
from profai.schemas.rules import NUL, SPACE, RequestModel, stripped
from profai.services.accounts import _EMAIL, MIN_PASSWORD

# What services.accounts accepts: clean_email (stripped and lower-cased, then _EMAIL), check_password.
EMAIL_RULES: JsonDict = {"pattern": stripped(_EMAIL.pattern.strip("^$").replace("\\s", SPACE + NUL))}
PASSWORD_RULES: JsonDict = {"minLength": MIN_PASSWORD}

Role = Literal["admin", "teacher", "student"]


class Credentials(RequestModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class PasswordChange(RequestModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256, json_schema_extra=PASSWORD_RULES)


class UserIn(RequestModel):
    email: str = Field(max_length=254, json_schema_extra=EMAIL_RULES)
    password: str = Field(max_length=256, json_schema_extra=PASSWORD_RULES)
    role: Role
    name: str = Field("", max_length=100)


class UserPatch(RequestModel):
    disabled: bool | None = None
    role: Role | None = None


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name, role=user.role, disabled=user.disabled,
                   created_at=user.created_at)


class Me(BaseModel):
    """Who is asking; `user` is None for the API_KEY admin, which has no account."""

    role: str
    via: str
    user: UserOut | None = None


class UserList(BaseModel):
    users: list[UserOut]


class KeyIn(RequestModel):
    name: str = Field("key", max_length=100)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    user_id: int
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(id=key.id, name=key.name, prefix=key.prefix, user_id=key.user_id, created_at=key.created_at,
                   last_used_at=key.last_used_at, revoked_at=key.revoked_at)


class NewKey(KeyOut):
    key: str = Field(description="The secret: shown this once, stored only as a hash")


class KeyList(BaseModel):
    keys: list[KeyOut]


class SetupState(BaseModel):
    setup_needed: bool


class JoinIn(RequestModel):
    code: str = Field(max_length=64)


class Joined(BaseModel):
    course_id: int
    title: str
    new: bool


class JoinCode(BaseModel):
    course_id: int
    join_code: str


class Student(BaseModel):
    id: int
    email: str
    name: str
    joined_at: datetime


class StudentList(BaseModel):
    students: list[Student]


class QuestionResult(BaseModel):
    question_id: str
    correct: bool


class AttemptResult(BaseModel):
    attempt_id: int
    score: int
    total: int
    created_at: datetime
    questions: list[QuestionResult]


class StudentResults(BaseModel):
    user_id: int | None
    email: str
    attempts: list[AttemptResult]


class QuizResults(BaseModel):
    quiz_id: str
    difficulty: str
    created_at: datetime
    questions: int
    students: list[StudentResults]


class ClassResults(BaseModel):
    course_id: int
    quizzes: list[QuizResults]
