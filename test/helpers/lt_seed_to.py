#!/usr/bin/python3
"""Seed one torrent with libtorrent and dial one downloader, for btscope's trace tests.

usage: /usr/bin/python3 test/helpers/lt_seed_to.py TORRENT DATA_DIR HOST:PORT

For downloaders that do not dial 127.0.0.1 peers themselves (transmission 3.00):
the seeder listens on a free loopback port, connects to HOST:PORT every 2 s while
not connected, prints "ready PORT" once seeding, and exits when stdin closes.
Plaintext, TCP only; DHT, LSD, UPnP and NAT-PMP off.
"""
import sys
import time
from lt_common import add_torrent, make_session, serve_until_stdin_closes, wait_seeding


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    torrent, save_path, peer = sys.argv[1], sys.argv[2], sys.argv[3]
    host, port = peer.rsplit(':', 1)
    ses = make_session('127.0.0.1:0', seed=True, allow_multiple_connections_per_ip=True)
    handle = add_torrent(ses, torrent, save_path, trackers=False)
    if not wait_seeding(ses, handle, 60):
        return 2
    last = [0.0]

    def dial():
        if time.time() - last[0] > 2 and handle.status().num_peers == 0:
            handle.connect_peer((host, int(port)))
            last[0] = time.time()

    return serve_until_stdin_closes(0.2, dial)


if __name__ == '__main__':
    sys.exit(main())
