#!/usr/bin/python3
"""A libtorrent leecher that is given ONE peer and reports where its other peers came from.

usage: /usr/bin/python3 test/helpers/lt_pex_watch.py TORRENT SAVE_DIR HOST:PORT [--timeout S] [--rate BYTES_PER_S]

Connects only to HOST:PORT (DHT, LSD, UPnP, NAT-PMP, trackers off; plaintext;
TCP only), downloading slowly (--rate, default 16384 B/s) so it stays a leecher
and keeps its connections. Every peer it is connected to is printed once as
    peer IP:PORT source=N flags=N
(source: libtorrent's peer_info source bits: tracker 0x1, dht 0x2, pex 0x4, lsd 0x8;
the first line, "listening PORT pexbit N", gives the pex bit as the binding has it). Prints "pex IP:PORT"
and exits 0 as soon as a connected peer's source includes pex; exits 2 after
--timeout seconds (default 20) without one. Stops when stdin closes, too.
"""
import select
import sys
import time
import libtorrent as lt
from lt_common import add_torrent, arg, make_session


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    source, save_path, peer = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(arg('--timeout', '20'))
    rate = int(arg('--rate', '16384'))
    host, port = peer.rsplit(':', 1)
    ses = make_session(
        '127.0.0.1:0',
        in_enc=lt.enc_policy.disabled,
        allow_multiple_connections_per_ip=True,
    )
    # Loopback peers are in libtorrent's "local" peer class, which the session's rate limits skip:
    # limit that class itself.
    local = ses.get_peer_class(ses.local_peer_class_id)
    local['download_limit'] = rate
    ses.set_peer_class(ses.local_peer_class_id, local)
    handle = add_torrent(ses, source, save_path, trackers=False)
    handle.connect_peer((host, int(port)))
    print('listening %d pexbit %d' % (ses.listen_port(), int(lt.peer_info.pex)), flush=True)
    seen = set()
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in handle.get_peer_info():
            key = '%s:%d' % (p.ip[0], p.ip[1])
            if key not in seen:
                seen.add(key)
                print('peer %s source=%d flags=%d' % (key, p.source, p.flags), flush=True)
            if p.source & lt.peer_info.pex:
                print('pex %s' % key, flush=True)
                return 0
        r, _, _ = select.select([sys.stdin], [], [], 0.1)
        if r and not sys.stdin.read(1):
            return 3
    st = handle.status()
    print('no pex peer in %d s: state %s, progress %.3f, peers %d, list %d' % (timeout, st.state, st.progress, st.num_peers, st.list_peers), file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
