"""Type stubs for ringdb's extension module (the docstrings in module.cc say the same)."""

import enum
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TypeVar, Union

_Bytes = Union[bytes, str, bytearray, memoryview]  # str is encoded as UTF-8
_T = TypeVar("_T")

class Durability(enum.IntEnum):
    SYNC: int
    ASYNC: int
    NONE: int

SYNC: Durability
ASYNC: Durability
NONE: Durability

class Status(enum.IntEnum):
    OK: int
    NOT_FOUND: int
    CONFLICT: int
    OUT_OF_MEMORY: int
    TOO_LARGE: int
    INVALID_ARGUMENT: int
    TOO_MANY_VIEWS: int
    TRANSACTION_DONE: int
    INVALID_REQUEST: int
    SHUTTING_DOWN: int
    TOO_MANY_TRANSACTIONS: int
    TRANSACTION_BUSY: int
    RESPONSE_AREA_FULL: int
    UNKNOWN_TRANSACTION: int
    DISK_FULL: int
    TRX_TOO_OLD: int
    CONDITION_FAILED: int
    COMPACTED: int
    TOO_MANY_WATCHES: int
    RING_FULL: int
    TOO_MANY_IN_FLIGHT: int
    DISCONNECTED: int
    PERMISSION_DENIED: int
    TOO_MANY_SESSIONS: int
    PROTOCOL_MISMATCH: int
    CONNECT_FAILED: int
    UNTRUSTED_DAEMON: int
    TIMED_OUT: int

class Error(Exception):
    status: Status
    code: int
    message: str
    detail: str

class ConflictError(Error): ...
class DisconnectedError(Error, ConnectionError): ...
class ConnectError(Error, ConnectionError): ...
class TimedOutError(Error, TimeoutError): ...

def version() -> str: ...
def status_message(status: Status) -> str: ...
def connect(
    socket: str | None = None,
    daemon_uids: list[int] = ...,
    keep_threads_off_worker_cpus: bool = True,
    timeout: float | None = None,
) -> Client: ...

class Change:
    @property
    def key(self) -> bytes: ...
    @property
    def value(self) -> bytes | None: ...
    deleted: bool
    value_omitted: bool

class EventType(enum.IntEnum):
    COMMIT: int
    COMPACTED: int
    ENDED: int

class WatchEvent:
    type: EventType
    watch: int
    sequence: int
    changes: list[Change]

class Cursor(Iterator[tuple[bytes, bytes]]):
    def __iter__(self) -> Cursor: ...
    def __next__(self) -> tuple[bytes, bytes]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Cursor: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

class Transaction:
    def get(self, key: _Bytes) -> bytes | None: ...
    def put(self, key: _Bytes, value: _Bytes) -> None: ...
    def delete(self, key: _Bytes) -> bool: ...
    def scan(
        self,
        start: _Bytes | None = None,
        end: _Bytes | None = None,
        prefix: _Bytes | None = None,
        reverse: bool = False,
        page_items: int = 1000,
    ) -> Cursor: ...
    def commit(self, durability: Durability | None = None) -> None: ...
    def abort(self) -> None: ...
    @property
    def open(self) -> bool: ...
    @property
    def commit_sequence(self) -> int: ...
    @property
    def log_position(self) -> int: ...
    def __enter__(self) -> Transaction: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

class Pipeline:
    def get(self, key: _Bytes) -> Pipeline: ...
    def put(self, key: _Bytes, value: _Bytes, durability: Durability = ...) -> Pipeline: ...
    def delete(self, key: _Bytes, durability: Durability = ...) -> Pipeline: ...
    def execute(self, raise_on_error: bool = True) -> list[bytes | bool | Error | None]: ...
    def __len__(self) -> int: ...

class Client:
    def close(self) -> None: ...
    def ping(self) -> None: ...
    def get(self, key: _Bytes) -> bytes | None: ...
    def get_with_sequence(self, key: _Bytes) -> tuple[bytes, int] | None: ...
    def put(self, key: _Bytes, value: _Bytes, durability: Durability = ...) -> None: ...
    def delete(self, key: _Bytes, durability: Durability = ...) -> bool: ...
    def scan(
        self,
        start: _Bytes | None = None,
        end: _Bytes | None = None,
        prefix: _Bytes | None = None,
        reverse: bool = False,
        page_items: int = 1000,
    ) -> Cursor: ...
    def transaction(self, read_only: bool = False, durability: Durability = ...) -> Transaction: ...
    def run_transaction(
        self,
        fn: Callable[[Transaction], _T],
        attempts: int = 16,
        read_only: bool = False,
        durability: Durability = ...,
    ) -> _T: ...
    def pipeline(self) -> Pipeline: ...
    def get_many(self, keys: Iterable[_Bytes]) -> list[bytes | None]: ...
    def put_many(
        self, items: Iterable[tuple[_Bytes, _Bytes]], durability: Durability = ...
    ) -> None: ...
    def watch(
        self,
        start: _Bytes | None = None,
        end: _Bytes | None = None,
        prefix: _Bytes | None = None,
        position: int | None = None,
        keys_only: bool = False,
    ) -> tuple[int, int]: ...
    def unwatch(self, id: int) -> bool: ...
    def next_event(self, timeout: float | None = None) -> WatchEvent | None: ...
    timeout: float | None
    @property
    def daemon_version(self) -> str: ...
    @property
    def session_id(self) -> int: ...
    def __enter__(self) -> Client: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
