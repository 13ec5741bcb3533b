#!/usr/bin/env python3
"""Which b-trees the commits in a SQLite WAL wrote, in pages a commit.

Reads the frame headers of DB-wal (the frames of the current WAL generation, up to the last
commit), maps each page number to its table or index with SQLite's dbstat table, and prints
the pages each b-tree contributed to a commit, on average. A page written twice in one commit
counts once. Leave a WAL behind by killing the registry with `kill -9` during a load (a clean
shutdown checkpoints and deletes it), then run this on the database file.

Usage: Benchmarks/registry/walpages.py DB
"""
import collections
import sqlite3
import struct
import sys


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    database = sys.argv[1]
    try:
        with open(database + "-wal", "rb") as file:
            wal = file.read()
    except FileNotFoundError:
        sys.exit(f"no {database}-wal: stop the server with kill -9 during a load to keep it")
    if len(wal) < 32:
        sys.exit(f"{database}-wal holds no frames")
    _, _, page_size, _, salt1, salt2, _, _ = struct.unpack(">8I", wal[:32])
    commits, current, offset = [], [], 32
    while offset + 24 + page_size <= len(wal):
        page, size_after_commit, frame_salt1, frame_salt2 = struct.unpack(">4I", wal[offset:offset + 16])
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break  # the frames of an earlier generation
        current.append(page)
        if size_after_commit:  # the commit's last frame
            commits.append(set(current))
            current = []
        offset += 24 + page_size
    if not commits:
        sys.exit("no committed frames in the WAL")
    # Opened read-only, the WAL is read as it is, not checkpointed.
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    owner = dict((page, name) for name, page in connection.execute("SELECT name, pageno FROM dbstat"))
    pages = collections.Counter(owner.get(page, "(free list or header)") for commit in commits for page in commit)
    print(f"{len(commits)} commits, {sum(map(len, commits)) / len(commits):.1f} pages a commit ({page_size}-byte pages)")
    for name, count in pages.most_common():
        print(f"{name:40s} {count / len(commits):8.1f}")


if __name__ == "__main__":
    main()
