#!/usr/bin/python3
"""Download one torrent (or magnet link) with libtorrent from one peer on loopback, for btscope's tests.

usage: /usr/bin/python3 test/helpers/lt_download.py TORRENT|MAGNET SAVE_DIR PEER_HOST:PEER_PORT [--utp] [--encrypt] [--timeout S] [--bind ADDR]

Connects to the given peer only (DHT, LSD, UPnP, NAT-PMP, trackers off) with
encryption off (--encrypt: MSE forced both ways, RC4 only). --utp makes it uTP only (outgoing TCP off). Prints "done" and
exits 0 when the download is complete; exits 2 on timeout (default 60 s).
--bind listens on ADDR instead of 127.0.0.1 (bench/trace.ts: a veth address
in a network namespace).
"""
import sys
import time
import libtorrent as lt
from lt_common import add_torrent, arg, make_session


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    source, save_path, peer = sys.argv[1], sys.argv[2], sys.argv[3]
    utp = '--utp' in sys.argv
    encrypt = '--encrypt' in sys.argv
    enc = {'out_enc': lt.enc_policy.forced, 'in_enc': lt.enc_policy.forced, 'allowed_enc_level': lt.enc_level.rc4} if encrypt else {'in_enc': lt.enc_policy.disabled}
    timeout = float(arg('--timeout', '60'))
    host, port = peer.rsplit(':', 1)
    ses = make_session(
        '%s:0' % arg('--bind', '127.0.0.1'),
        utp=utp,
        **enc,
        enable_outgoing_tcp=not utp,
        enable_incoming_tcp=not utp,
        allow_multiple_connections_per_ip=True,
    )
    handle = add_torrent(ses, source, save_path, trackers=False)
    handle.connect_peer((host, int(port)))
    deadline = time.time() + timeout
    last_connect = time.time()
    while time.time() < deadline:
        st = handle.status()
        if st.is_seeding or (st.has_metadata and st.progress >= 1.0):
            print('done', flush=True)
            return 0
        if time.time() - last_connect > 2 and st.num_peers == 0:
            handle.connect_peer((host, int(port)))
            last_connect = time.time()
        time.sleep(0.05)
    st = handle.status()
    print('timeout: state %s, progress %.3f, peers %d' % (st.state, st.progress, st.num_peers), file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
