"""ringdb: a transactional key-value store for the processes of one host, served by ringdbd
over shared memory.

    import ringdb
    with ringdb.connect() as db:
        db.put(b"greeting", b"hello")
        assert db.get(b"greeting") == b"hello"
        with db.transaction() as txn:           # commits at the end, aborts if it raises
            txn.put("a", "1")
        for key, value in db.scan(prefix=b"user/"):
            ...
        db.run_transaction(lambda txn: txn.put("n", str(int(txn.get("n") or 0) + 1)))

Keys and values are bytes (str is encoded as UTF-8); what comes back is bytes. Calls that wait
for the daemon release the GIL. A Client may be shared by threads; do not use one across
fork() (connect again in the child). docs/CLIENT.md has the whole API.
"""

from ringdb._ringdb import (
    ASYNC,
    NONE,
    SYNC,
    Change,
    Client,
    ConflictError,
    ConnectError,
    Cursor,
    DisconnectedError,
    Durability,
    Error,
    EventType,
    Pipeline,
    Status,
    TimedOutError,
    Transaction,
    WatchEvent,
    connect,
    status_message,
    version,
)

__version__ = version()

__all__ = [
    "ASYNC",
    "NONE",
    "SYNC",
    "Change",
    "Client",
    "ConflictError",
    "ConnectError",
    "Cursor",
    "DisconnectedError",
    "Durability",
    "Error",
    "EventType",
    "Pipeline",
    "Status",
    "TimedOutError",
    "Transaction",
    "WatchEvent",
    "connect",
    "status_message",
    "version",
]
