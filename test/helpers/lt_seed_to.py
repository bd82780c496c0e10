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
import select
import libtorrent as lt


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    torrent, save_path, peer = sys.argv[1], sys.argv[2], sys.argv[3]
    host, port = peer.rsplit(':', 1)
    settings = lt.high_performance_seed()
    settings.update({
        'listen_interfaces': '127.0.0.1:0',
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'allow_multiple_connections_per_ip': True,
        'enable_outgoing_utp': False,
        'enable_incoming_utp': False,
        'out_enc_policy': lt.enc_policy.disabled,
        'in_enc_policy': lt.enc_policy.enabled,
        'alert_mask': 0,
    })
    ses = lt.session(settings)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save_path
    params.trackers = []
    handle = ses.add_torrent(params)
    deadline = time.time() + 60
    while time.time() < deadline and not handle.status().is_seeding:
        time.sleep(0.05)
    if not handle.status().is_seeding:
        print('not seeding after 60 s', file=sys.stderr)
        return 2
    print('ready %d' % ses.listen_port(), flush=True)
    last = 0.0
    while True:
        if time.time() - last > 2 and handle.status().num_peers == 0:
            handle.connect_peer((host, int(port)))
            last = time.time()
        r, _, _ = select.select([sys.stdin], [], [], 0.2)
        if r and not sys.stdin.read(1):
            return 0


if __name__ == '__main__':
    sys.exit(main())
