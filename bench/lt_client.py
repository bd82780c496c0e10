#!/usr/bin/python3
"""A libtorrent downloader for bench/download.ts (loopback only).

usage: /usr/bin/python3 bench/lt_client.py TORRENT SAVE_DIR [--peer HOST:PORT] [--no-trackers] [--encrypt] [--timeout S]

Default client settings (what a libtorrent user gets) except: DHT, LSD, UPnP,
NAT-PMP and uTP off, encryption off (--encrypt: MSE/RC4 forced both ways), several connections per IP allowed (every
bench peer is 127.0.0.1). Announces to the torrent's trackers unless
--no-trackers; also dials --peer. Prints "done SECONDS" (from adding the
torrent to having every piece) and exits 0; exits 2 on timeout (default 120 s).
"""
import os
import sys
import time
import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'helpers'))
from lt_common import add_torrent, arg, make_session  # noqa: E402


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    torrent, save_path = sys.argv[1], sys.argv[2]
    peer = arg('--peer')
    timeout = float(arg('--timeout', '120'))
    enc = ({'out_enc': lt.enc_policy.forced, 'in_enc': lt.enc_policy.forced, 'allowed_enc_level': lt.enc_level.rc4}
           if '--encrypt' in sys.argv else {'in_enc': lt.enc_policy.disabled})
    ses = make_session('127.0.0.1:0', allow_multiple_connections_per_ip=True, **enc)
    no_trackers = '--no-trackers' in sys.argv
    started = time.time()
    handle = add_torrent(ses, torrent, save_path, flags=lt.torrent_flags.paused if no_trackers else None)
    if no_trackers:
        handle.replace_trackers([])
        handle.resume()
    if peer:
        host, port = peer.rsplit(':', 1)
        handle.connect_peer((host, int(port)))
    deadline = started + timeout
    while time.time() < deadline:
        st = handle.status()
        if st.is_seeding or st.progress >= 1.0:
            print('done %.3f' % (time.time() - started), flush=True)
            return 0
        time.sleep(0.01)
    st = handle.status()
    print('timeout: state %s, progress %.3f, peers %d' % (st.state, st.progress, st.num_peers), file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
