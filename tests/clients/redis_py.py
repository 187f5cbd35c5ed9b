"""redis-py, a Redis client nobody on this project wrote, against a ring.

Run by tests/clients.rs: python3 redis_py.py <where redis-py is> <addr>...
Prints one line per check; any failure raises, and the exit code says so.
A warning from the client (redis-py warns when HELLO 3 is refused, for
one) fails the run: a client should connect without complaint.
"""

import logging
import sys
import warnings

sys.path.insert(0, sys.argv[1])
import redis  # noqa: E402

warnings.simplefilter("error")


class FailOnWarning(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            raise AssertionError("redis-py warned: " + record.getMessage())


logging.getLogger().addHandler(FailOnWarning())
addrs = sys.argv[2:]


def connect(addr, **options):
    host, port = addr.rsplit(":", 1)
    return redis.Redis(host=host, port=int(port), **options)


def check(name, ok):
    if not ok:
        raise AssertionError(name)
    print("ok", name)


first = connect(addrs[0], protocol=3)
second = connect(addrs[1 % len(addrs)])
check("RESP3 connection answers PING", first.ping())
first.set("py:greeting", "hello")
check("a value written through one node reads through another",
      second.get("py:greeting") == b"hello")

big = bytes(range(256)) * (10 * 1024 * 1024 // 256)
first.set("py:big", big)
check("a 10 MiB value travels whole", second.get("py:big") == big)

binary = b"py:\x00\xff\r\n key"
first.set(binary, b"binary")
check("a binary key is a key", second.get(binary) == b"binary")
check("KEYS lists the binary key", binary in second.keys(b"py:*"))

pipe = first.pipeline(transaction=False)
for i in range(10000):
    pipe.set(f"py:p{i}", i)
check("a pipeline of 10,000 SETs", all(pipe.execute()))
pipe = second.pipeline(transaction=False)
for i in range(10000):
    pipe.get(f"py:p{i}")
check("a pipeline of 10,000 GETs reads them back",
      pipe.execute() == [str(i).encode() for i in range(10000)])

with first.pipeline() as tx:
    tx.set("{py}:a", 1).incr("{py}:a").get("{py}:a").mget("{py}:a", "{py}:b")
    answers = tx.execute()
check("a transaction on hash-tagged keys", answers == [True, 2, b"2", [b"2", None]])

try:
    with first.pipeline() as tx:
        tx.set("py:untagged-a", 1).set("py:untagged-b", 2)
        tx.execute()
    crossed = None
except redis.exceptions.ResponseError as e:
    crossed = str(e)
check("keys of different slots get CROSSSLOT", crossed is not None and "slot" in crossed)

check("MSETNX on one tag", first.msetnx({"{py}:m1": 1, "{py}:m2": 2}))
first.rename("{py}:m1", "{py}:m3")
check("RENAME on one tag", second.get("{py}:m3") == b"1")
check("COPY on one tag", first.copy("{py}:m3", "{py}:m4") and first.get("{py}:m4") == b"1")

first.client_setname("chord-test")
check("CLIENT SETNAME and GETNAME", first.client_getname() in ("chord-test", b"chord-test"))
info = first.info("server")
check("INFO server parses", "redis_version" in info)

first.flushall()
check("FLUSHALL empties the ring", first.dbsize() == 0 and second.get("py:greeting") is None)
print("all checks passed")
