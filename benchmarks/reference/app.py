"""FastAPI + SQLAlchemy 2: the API's read endpoints of the load section, as the
schema document's own stack would serve them.

Served by `uvicorn benchmarks.reference.app:app --workers N` on the same
database as the Django site. What it matches, so that the comparison is fair:

- the same URLs, query parameters, page size and JSON fields (a foreign key is
  its id under the field's name, `character`; nested personality and
  appearance in the character; `count/next/previous/results` pages and a
  cursor page for posts);
- the same filters and orderings, hence the same SQL (and indexes);
- the same authentication: `Authorization: Token <token>` checked against
  django-rest-knox's table (`knox_authtoken`: the first 15 characters find
  the row, the SHA-512 digest of the token must match, the token must not be
  expired and its user active);
- the document's own choices where it makes them: a synchronous engine with
  `QueuePool(pool_size=10, max_overflow=20, pool_pre_ping=True)` (section 7.2)
  and the five-minute Redis cache of the character (section 7.3);
- response models in pydantic (FastAPI's usual way), built from the reflected
  tables so that every column is in the answer, written to JSON by pydantic's
  own serializer (`model_dump_json`, in Rust) and returned as the response,
  as FastAPI's documentation advises for speed ("Return a Response
  directly"): a route without a response model would otherwise pass the
  answer through `jsonable_encoder` and the standard library's `json.dumps`;
- a cached character is answered with the cached bytes, as the product answers
  its own cached detail.

What it does not do, by design: permissions per model and throttling (the
product's API does both; the reference checks only the token).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

import redis
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, create_model
from sqlalchemy import (
    Column,
    MetaData,
    Table,
    Text,
    and_,
    cast,
    create_engine,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import Date

DATABASE_URL = os.environ.get("REF_DATABASE_URL", "")
REDIS_URL = os.environ.get("REF_REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_TTL = 300
TOKEN_KEY_LENGTH = 15  # knox's CONSTANTS.TOKEN_KEY_LENGTH
MAX_PAGE_SIZE = 200

engine = create_engine(
    DATABASE_URL or "postgresql+psycopg://",
    poolclass=QueuePool,
    pool_size=10,
    max_overflow=20,
    pool_pre_ping=True,
    pool_recycle=3600,
)
SessionLocal = sessionmaker(engine)
cache = redis.Redis.from_url(REDIS_URL)
metadata = MetaData()
TABLES = (
    "characters",
    "character_personalities",
    "character_appearances",
    "posts",
    "platform_accounts",
    "content",
    "analytics",
    "knox_authtoken",
    "auth_user",
)
t: dict[str, Table] = {}
models: dict[str, type[BaseModel]] = {}


def json_name(column: Column[Any]) -> str:
    """A foreign key is answered under its field's name, as Django's serializers do."""
    if column.foreign_keys and column.name.endswith("_id"):
        return column.name[:-3]
    return column.name


def _python_type(column: Column[Any]) -> Any:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return Any
    if kind in (dict, list):
        return Any  # JSON and arrays: whatever the row holds
    return kind


def _model(
    name: str, table: Table, *, skip: tuple[str, ...] = (), **extra: Any
) -> type[BaseModel]:
    fields: dict[str, Any] = {
        json_name(c): (_python_type(c) | None, None)
        for c in table.columns
        if c.name not in skip
    }
    fields.update(extra)
    return create_model(name, **fields)


def _columns(table: Table, *, skip: tuple[str, ...] = ()) -> list[Any]:
    return [c.label(json_name(c)) for c in table.columns if c.name not in skip]


def setup() -> None:
    """Reflect the tables and build the response models (once per process)."""
    for name in TABLES:
        t[name] = Table(name, metadata, autoload_with=engine)
    nested = ("id", "character_id")
    personality = _model("Personality", t["character_personalities"], skip=nested)
    appearance = _model("Appearance", t["character_appearances"], skip=nested)
    models["character"] = _model(
        "Character",
        t["characters"],
        personality=(personality | None, None),
        appearance=(appearance | None, None),
        post_count=(int, 0),
        platform_count=(int, 0),
    )
    models["post"] = _model("Post", t["posts"])
    models["content"] = _model("Content", t["content"])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    setup()
    yield
    engine.dispose()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


# --- authentication: django-rest-knox's token table ---------------------------


def _json(body: BaseModel | bytes) -> Response:
    """A model as JSON, written by pydantic-core (or bytes already JSON)."""
    data = body if isinstance(body, bytes) else body.model_dump_json().encode()
    return Response(content=data, media_type="application/json")


def get_db() -> Iterator[Session]:
    with SessionLocal() as db:
        yield db


Db = Annotated[Session, Depends(get_db)]


def authenticated(db: Db, authorization: Annotated[str, Header()] = "") -> int:
    """The user id of a valid `Token <token>`; 401 otherwise."""
    scheme, _, token = authorization.partition(" ")
    if scheme != "Token" or not token:
        raise HTTPException(401, "Authentication credentials were not provided.")
    tokens, users = t["knox_authtoken"], t["auth_user"]
    rows = db.execute(
        select(tokens.c.digest, tokens.c.expiry, users.c.id, users.c.is_active)
        .join(users, users.c.id == tokens.c.user_id)
        .where(tokens.c.token_key == token[:TOKEN_KEY_LENGTH])
    ).all()
    digest = hashlib.sha512(token.encode()).hexdigest()
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        if row.expiry is not None and row.expiry < now:
            continue
        if hmac.compare_digest(digest, row.digest) and row.is_active:
            return int(row.id)
    raise HTTPException(401, "Invalid token.")


User = Annotated[int, Depends(authenticated)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


# --- characters ------------------------------------------------------------------


def _characters_query() -> Any:
    ch, pe, ap = (
        t["characters"],
        t["character_personalities"],
        t["character_appearances"],
    )
    posts, accounts = t["posts"], t["platform_accounts"]
    post_count = (
        select(func.count())
        .where(posts.c.character_id == ch.c.id)
        .correlate(ch)
        .scalar_subquery()
    )
    platform_count = (
        select(func.count())
        .where(accounts.c.character_id == ch.c.id)
        .correlate(ch)
        .scalar_subquery()
    )
    nested = ("id", "character_id")
    return (
        select(
            ch,
            *[c.label(f"pe__{c.name}") for c in pe.c if c.name not in nested],
            pe.c.id.label("pe__present"),
            *[c.label(f"ap__{c.name}") for c in ap.c if c.name not in nested],
            ap.c.id.label("ap__present"),
            post_count.label("post_count"),
            platform_count.label("platform_count"),
        )
        .outerjoin(pe, pe.c.character_id == ch.c.id)
        .outerjoin(ap, ap.c.character_id == ch.c.id)
        .where(ch.c.deleted_at.is_(None))
    )


def _character_dict(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    personality: dict[str, Any] = {}
    appearance: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if key.startswith("pe__"):
            personality[key[4:]] = value
        elif key.startswith("ap__"):
            appearance[key[4:]] = value
        else:
            out[key] = value
    out["personality"] = personality if personality.pop("present") else None
    out["appearance"] = appearance if appearance.pop("present") else None
    return out


@app.get("/api/v1/characters/{character_id}/", response_model=None)
def character_detail(character_id: uuid.UUID, db: Db, user: User) -> Any:
    key = f"ref:character:{character_id}"
    cached = cache.get(key)
    if cached is not None:
        return _json(cached if isinstance(cached, bytes) else cached.encode())
    row = db.execute(
        _characters_query().where(t["characters"].c.id == character_id)
    ).first()
    if row is None:
        raise HTTPException(404, "No character with this id.")
    character = models["character"].model_validate(_character_dict(row))
    body = character.model_dump_json().encode()
    cache.setex(key, CACHE_TTL, body)
    return _json(body)


class Page(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[Any]


def _page_links(
    request: Request, page: int, page_size: int, count: int
) -> tuple[str | None, str | None]:
    def link(n: int) -> str:
        params = dict(request.query_params) | {"page": str(n)}
        return f"{request.url.path}?{urlencode(params)}"

    last = max(1, -(-count // page_size))
    return (
        link(page + 1) if page < last else None,
        link(page - 1) if page > 1 else None,
    )


@app.get("/api/v1/characters/", response_model=None)
def character_list(
    request: Request, db: Db, user: User, page: int = 1, page_size: PageSize = 50
) -> Response:
    ch = t["characters"]
    count = db.execute(
        select(func.count()).select_from(ch).where(ch.c.deleted_at.is_(None))
    ).scalar_one()
    rows = db.execute(
        _characters_query()
        .order_by(ch.c.created_at.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    model = models["character"]
    next_, previous = _page_links(request, page, page_size, count)
    return _json(
        Page(
            count=count,
            next=next_,
            previous=previous,
            results=[model.model_validate(_character_dict(r)) for r in rows],
        )
    )


# --- posts: a cursor page, newest published first ---------------------------------


class CursorPage(BaseModel):
    next: str | None
    previous: str | None
    results: list[Any]


def _encode_cursor(position: dt.datetime) -> str:
    return base64.urlsafe_b64encode(position.isoformat().encode()).decode()


def _decode_cursor(cursor: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(base64.urlsafe_b64decode(cursor).decode())
    except ValueError:
        raise HTTPException(404, "Invalid cursor") from None


@app.get("/api/v1/posts/", response_model=None)
def post_list(
    request: Request,
    db: Db,
    user: User,
    character: uuid.UUID | None = None,
    status: str | None = None,
    ordering: str = "-published_at",
    page_size: PageSize = 50,
    cursor: str | None = None,
) -> Response:
    if ordering != "-published_at":
        raise HTTPException(400, {"ordering": ["Only -published_at here."]})
    posts = t["posts"]
    conditions = []
    if character is not None:
        conditions.append(posts.c.character_id == character)
    if status is not None:
        conditions.append(posts.c.status == status)
    if cursor:
        conditions.append(posts.c.published_at < _decode_cursor(cursor))
    rows = db.execute(
        select(*_columns(posts))
        .where(and_(*conditions))
        .order_by(posts.c.published_at.desc())
        .limit(page_size + 1)
    ).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    next_ = None
    if more and rows[-1].published_at is not None:
        params = dict(request.query_params) | {
            "cursor": _encode_cursor(rows[-1].published_at)
        }
        next_ = f"{request.url.path}?{urlencode(params)}"
    model = models["post"]
    return _json(
        CursorPage(
            next=next_,
            previous=None,
            results=[model.model_validate(r._mapping) for r in rows],
        )
    )


# --- content by character, type and approval ----------------------------------------


@app.get("/api/v1/content/", response_model=None)
def content_list(
    request: Request,
    db: Db,
    user: User,
    character: uuid.UUID | None = None,
    content_type: str | None = None,
    approval_status: str | None = None,
    page: int = 1,
    page_size: PageSize = 50,
) -> Response:
    content = t["content"]
    conditions = []
    if character is not None:
        conditions.append(content.c.character_id == character)
    if content_type is not None:
        conditions.append(content.c.content_type == content_type)
    if approval_status is not None:
        conditions.append(content.c.approval_status == approval_status)
    where = and_(*conditions)
    count = db.execute(
        select(func.count()).select_from(content).where(where)
    ).scalar_one()
    rows = db.execute(
        select(*_columns(content))
        .where(where)
        .order_by(content.c.created_at.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    model = models["content"]
    next_, previous = _page_links(request, page, page_size, count)
    return _json(
        Page(
            count=count,
            next=next_,
            previous=previous,
            results=[model.model_validate(r._mapping) for r in rows],
        )
    )


# --- analytics series ----------------------------------------------------------------


class SeriesPoint(BaseModel):
    bucket: dt.date
    total: Decimal
    samples: int


BUCKETS = ("day", "week", "month")


@app.get("/api/v1/analytics/series/", response_model=list[SeriesPoint])
def analytics_series(
    db: Db,
    user: User,
    character: uuid.UUID,
    metric_type: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    bucket: str = "day",
) -> list[SeriesPoint]:
    if bucket not in BUCKETS:
        raise HTTPException(400, {"bucket": [f"One of {', '.join(BUCKETS)}."]})
    a = t["analytics"]
    conditions = [a.c.character_id == character, a.c.metric_type == metric_type]
    if date_from is not None:
        conditions.append(a.c.metric_date >= date_from)
    if date_to is not None:
        conditions.append(a.c.metric_date <= date_to)
    trunc = cast(
        func.date_trunc(literal_column(f"'{bucket}'", Text), a.c.metric_date), Date
    ).label("bucket")
    rows = db.execute(
        select(
            trunc,
            func.sum(a.c.metric_value).label("total"),
            func.count(a.c.id).label("samples"),
        )
        .where(and_(*conditions))
        .group_by(trunc)
        .order_by(trunc)
    ).all()
    return [SeriesPoint.model_validate(r._mapping) for r in rows]
