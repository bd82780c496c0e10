#!/usr/bin/python3
"""Seed one torrent with libtorrent on loopback, for btscope's interop tests.

usage: /usr/bin/python3 test/helpers/lt_seed.py TORRENT DATA_DIR PORT [--utp] [--encrypt]

PORT 0 picks a free port. Prints "ready PORT" on stdout once the data is
checked and seeding (exits 2 if it is not within 60 s), then seeds until
killed or until stdin closes. TCP only and plaintext unless asked; DHT, LSD,
UPnP and NAT-PMP are off; allow_multiple_connections_per_ip is on (every test
peer is 127.0.0.1).
"""
import sys
import time
import select
import libtorrent as lt


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    torrent, save_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    utp = '--utp' in sys.argv
    encrypt = '--encrypt' in sys.argv
    settings = lt.high_performance_seed()
    settings.update({
        'listen_interfaces': '127.0.0.1:%d' % port,
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'allow_multiple_connections_per_ip': True,
        'enable_outgoing_utp': utp,
        'enable_incoming_utp': utp,
        'out_enc_policy': lt.enc_policy.enabled if encrypt else lt.enc_policy.disabled,
        'in_enc_policy': lt.enc_policy.forced if encrypt else lt.enc_policy.enabled,
        'alert_mask': 0,
    })
    ses = lt.session(settings)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save_path
    handle = ses.add_torrent(params)
    deadline = time.time() + 60
    while time.time() < deadline:
        st = handle.status()
        if st.is_seeding and ses.listen_port() > 0:
            break
        time.sleep(0.05)
    else:
        print('not seeding after 60 s: state %s, progress %.3f' % (handle.status().state, handle.status().progress), file=sys.stderr)
        return 2
    print('ready %d' % ses.listen_port(), flush=True)
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 1.0)
        if r and not sys.stdin.read(1):
            return 0


if __name__ == '__main__':
    sys.exit(main())
