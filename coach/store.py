"""Practice history: every completed turn, per learner, in an embedded SQL database.

    store = Store("sqlite:///history.db")            # any SQLAlchemy URL; default_database_url()
    record_id = store.record_turn("anna", session, None, scenario_text)   # after each reply
    store.sync_turns("anna", record_id, session)    # after undo: drops turns the session no longer has
    store.save_reflection("anna", record_id, {"At the hardest moment I felt": "..."})
    store.list_sessions("anna")                       # newest first, with scores per dimension
    session = restore_session(store.load("anna", record_id), analyzer)   # replays, no model call
    store.delete_history("anna")

Each turn is written in its own transaction the moment it is completed, with the analysis as
``ReplyAnalysis.to_record()``, so a crash or a closed tab loses nothing already coached and a
stored session is rebuilt by replaying ``Session.apply`` without the model. The scenario text a
session was played with is kept (once per distinct text), so later edits to the file never
break an old report. Every query takes the learner's name and filters by it: one learner can
never read or change another's sessions.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, create_engine, event, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session as DbSession, mapped_column, relationship

from coach.analysis import Analyzer, ReplyAnalysis
from coach.errors import UserError
from coach.labels import DIMENSIONS
from coach.scenario import ScenarioError, check_scenario_text
from coach.session import Session

DB_ENV = "PALVELUPEILI_DB"
MAX_LEARNER_NAME = 100


def default_database_url() -> str:
    """$PALVELUPEILI_DB, else a SQLite file under the XDG data folder (created on first use)."""
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = data_home / "palvelupeili"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'palvelupeili.db'}"


def scenario_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Base(DeclarativeBase):
    pass


class _ScenarioText(_Base):
    __tablename__ = "scenario_texts"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class _SessionRow(_Base):
    __tablename__ = "practice_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner: Mapped[str] = mapped_column(String(MAX_LEARNER_NAME), index=True)
    scenario_sha: Mapped[str] = mapped_column(ForeignKey("scenario_texts.sha256"))
    scenario_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    seed: Mapped[int] = mapped_column(Integer)
    checkin: Mapped[str | None] = mapped_column(String(100))
    reflection: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    turn_count: Mapped[int] = mapped_column(Integer, default=0)
    averages: Mapped[dict] = mapped_column(JSON, default=dict)
    ending_id: Mapped[str | None] = mapped_column(String(200))
    ending_kind: Mapped[str | None] = mapped_column(String(50))
    ending_title: Mapped[str | None] = mapped_column(Text)
    turns: Mapped[list[_TurnRow]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="_TurnRow.number"
    )


class _TurnRow(_Base):
    __tablename__ = "practice_turns"
    __table_args__ = (UniqueConstraint("session_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("practice_sessions.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    reply: Mapped[str] = mapped_column(Text)
    analysis: Mapped[dict] = mapped_column(JSON)
    mood_after: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    session: Mapped[_SessionRow] = relationship(back_populates="turns")


@dataclass(frozen=True)
class SessionSummary:
    id: int
    scenario_id: str
    title: str
    lang: str
    started_at: datetime
    updated_at: datetime
    turns: int
    averages: dict[str, float]
    ending_kind: str | None
    ending_title: str | None

    @property
    def finished(self) -> bool:
        return self.ending_kind is not None


@dataclass(frozen=True)
class SavedSession:
    id: int
    learner: str
    scenario_text: str
    lang: str
    seed: int
    checkin: str | None
    reflection: dict[str, str]
    turns: list[tuple[str, dict]]  # (reply, ReplyAnalysis.to_record()) in order


class Store:
    def __init__(self, url: str | None = None):
        self.url = url or default_database_url()
        self.engine: Engine = create_engine(self.url, connect_args=_connect_args(self.url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _Base.metadata.create_all(self.engine)

    # ------------------------------------------------------------------ writes

    def record_turn(self, learner: str, session: Session, record_id: int | None, scenario_text: str) -> int:
        """Store the session's newest turn, creating the session row when ``record_id`` is None; returns the id.

        A new row gets every turn the session has, so a session whose row was deleted meanwhile
        (the learner cleared their history in another tab) is stored whole again.
        """
        if not session.turns:
            raise ValueError("record_turn needs a session with at least one turn")
        with DbSession(self.engine) as db, db.begin():
            if record_id is None:
                row, new_turns = self._new_session_row(db, learner, session, scenario_text), session.turns
            else:
                row, new_turns = self._owned(db, learner, record_id), session.turns[-1:]
            for turn in new_turns:
                db.add(_TurnRow(session=row, number=turn.number, reply=turn.reply, analysis=turn.analysis.to_record(),
                                mood_after=turn.mood_after, created_at=_now()))  # fmt: skip
            _summarise(row, session)
            db.flush()
            return row.id

    def sync_turns(self, learner: str, record_id: int, session: Session) -> None:
        """Delete stored turns beyond the session's own (after an undo) and refresh the summary."""
        with DbSession(self.engine) as db, db.begin():
            row = self._owned(db, learner, record_id)
            for turn in [t for t in row.turns if t.number > len(session.turns)]:
                row.turns.remove(turn)
            _summarise(row, session)

    def save_reflection(self, learner: str, record_id: int, reflection: dict[str, str]) -> None:
        with DbSession(self.engine) as db, db.begin():
            row = self._owned(db, learner, record_id)
            row.reflection = dict(reflection)
            row.updated_at = _now()

    def delete_history(self, learner: str) -> int:
        """Delete every session of ``learner``; returns how many there were."""
        with DbSession(self.engine) as db, db.begin():
            rows = db.scalars(select(_SessionRow).where(_SessionRow.learner == learner)).all()
            for row in rows:
                db.delete(row)
            return len(rows)

    # ------------------------------------------------------------------ reads

    def list_sessions(self, learner: str) -> list[SessionSummary]:
        """The learner's sessions with at least one stored turn, newest first."""
        with DbSession(self.engine) as db:
            rows = db.scalars(
                select(_SessionRow)
                .where(_SessionRow.learner == learner, _SessionRow.turn_count > 0)
                .order_by(_SessionRow.started_at.desc(), _SessionRow.id.desc())
            ).all()
            return [
                SessionSummary(row.id, row.scenario_id, row.title, row.lang, _utc(row.started_at), _utc(row.updated_at),
                               row.turn_count, dict(row.averages), row.ending_kind, row.ending_title)  # fmt: skip
                for row in rows
            ]

    def load(self, learner: str, record_id: int) -> SavedSession:
        with DbSession(self.engine) as db:
            row = self._owned(db, learner, record_id)
            text = db.get(_ScenarioText, row.scenario_sha).text
            return SavedSession(row.id, row.learner, text, row.lang, row.seed, row.checkin, dict(row.reflection),
                                [(t.reply, t.analysis) for t in row.turns])  # fmt: skip

    # ------------------------------------------------------------------ helpers

    def _owned(self, db: DbSession, learner: str, record_id: int) -> _SessionRow:
        row = db.get(_SessionRow, record_id)
        # Someone else's session reads exactly like a missing one, so ids reveal nothing.
        if row is None or row.learner != learner:
            raise UserError(f"There is no saved session #{record_id} for {learner}.")
        return row

    def _new_session_row(self, db: DbSession, learner: str, session: Session, scenario_text: str) -> _SessionRow:
        learner = check_learner_name(learner)
        digest = scenario_digest(scenario_text)
        _add_scenario_text(db, {"sha256": digest, "scenario_id": session.scenario.id,
                                "version": session.scenario.version, "text": scenario_text})  # fmt: skip
        now = _now()
        row = _SessionRow(
            learner=learner, scenario_sha=digest, scenario_id=session.scenario.id,
            title=session.scenario.text(session.scenario.title, session.lang), lang=session.lang, seed=session.seed,
            checkin=session.checkin, reflection={}, started_at=now, updated_at=now, turn_count=0, averages={},
        )  # fmt: skip
        db.add(row)
        return row


def check_learner_name(name: str) -> str:
    """The name, stripped; UserError when it is empty or too long to be a name."""
    name = (name or "").strip()
    if not name:
        raise UserError("Enter a profile name first, so your sessions can be kept apart from others'.")
    if len(name) > MAX_LEARNER_NAME:
        raise UserError(f"A profile name is at most {MAX_LEARNER_NAME} characters long.")
    return name


def restore_session(saved: SavedSession, analyzer: Analyzer) -> Session:
    """A live Session rebuilt from storage by replaying each stored analysis (the model is not called)."""
    result = check_scenario_text(saved.scenario_text, file=f"saved session #{saved.id}")
    if result.scenario is None:
        raise ScenarioError(result.problems)
    session = Session(result.scenario, analyzer, lang=saved.lang, seed=saved.seed, checkin=saved.checkin)
    for reply, record in saved.turns:
        session.apply(reply, ReplyAnalysis.from_record(record))
    session.reflection = dict(saved.reflection)
    return session


def _add_scenario_text(db: DbSession, values: dict) -> None:
    """Store a scenario text once; two learners starting the same scenario at once must not collide."""
    dialect = db.get_bind().dialect.name
    if dialect in _UPSERT_DIALECTS:
        insert = _UPSERT_DIALECTS[dialect]
        db.execute(insert(_ScenarioText).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
    elif db.get(_ScenarioText, values["sha256"]) is None:
        db.add(_ScenarioText(**values))


_UPSERT_DIALECTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


def _summarise(row: _SessionRow, session: Session) -> None:
    turns = session.turns
    row.turn_count = len(turns)
    row.averages = {d: round(sum(t.scores[d] for t in turns) / len(turns), 4) for d in DIMENSIONS} if turns else {}
    ending = session.ending
    row.ending_id = ending.id if ending else None
    row.ending_kind = ending.kind if ending else None
    row.ending_title = session.scenario.text(ending.title, session.lang) if ending else None
    row.checkin = session.checkin
    row.updated_at = _now()


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything was written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _connect_args(url: str) -> dict:
    # Several learners write at once; wait for a busy SQLite file instead of failing at once.
    return {"timeout": 30} if url.startswith("sqlite") else {}


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the progress tab read while another learner's turn is being written.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
