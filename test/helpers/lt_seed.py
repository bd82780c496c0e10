#!/usr/bin/python3
"""Seed one torrent with libtorrent on loopback, for btscope's interop tests.

usage: /usr/bin/python3 test/helpers/lt_seed.py TORRENT DATA_DIR PORT [--utp] [--encrypt]

PORT 0 picks a free port. Prints "ready PORT" on stdout once the data is
checked and seeding (exits 2 if it is not within 60 s), then seeds until
killed or until stdin closes. TCP only and plaintext unless asked (--encrypt:
incoming connections must be MSE with RC4, libtorrent's in_enc_policy forced
and allowed_enc_level rc4); DHT, LSD,
UPnP and NAT-PMP are off; allow_multiple_connections_per_ip is on (every test
peer is 127.0.0.1).
"""
import sys
import libtorrent as lt
from lt_common import add_torrent, make_session, serve_until_stdin_closes, wait_seeding


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    torrent, save_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    encrypt = '--encrypt' in sys.argv
    ses = make_session(
        '127.0.0.1:%d' % port,
        seed=True,
        utp='--utp' in sys.argv,
        out_enc=lt.enc_policy.enabled if encrypt else lt.enc_policy.disabled,
        in_enc=lt.enc_policy.forced if encrypt else lt.enc_policy.enabled,
        allow_multiple_connections_per_ip=True,
        **({'allowed_enc_level': lt.enc_level.rc4} if encrypt else {}),
    )
    handle = add_torrent(ses, torrent, save_path)
    if not wait_seeding(ses, handle, 60):
        return 2
    return serve_until_stdin_closes()


if __name__ == '__main__':
    sys.exit(main())
