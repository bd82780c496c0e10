#!/usr/bin/python3
"""A libtorrent seeder for bench/trace.ts, bound to one address (a veth address
inside a network namespace the bench created, or loopback).

usage: /usr/bin/python3 bench/trace_seed.py TORRENT DATA_DIR HOST PORT

Prints "ready PORT" once the data is checked and seeding (exits 2 if not
within 120 s), then seeds until stdin closes or it is killed. TCP only,
plaintext (the capture must be readable); DHT, LSD, UPnP, NAT-PMP off.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'helpers'))
from lt_common import add_torrent, make_session, serve_until_stdin_closes, wait_seeding  # noqa: E402


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    torrent, save_path, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ses = make_session('%s:%d' % (host, port), seed=True)
    handle = add_torrent(ses, torrent, save_path)
    if not wait_seeding(ses, handle, 120):
        return 2
    return serve_until_stdin_closes()


if __name__ == '__main__':
    sys.exit(main())
