#!/usr/bin/python3
"""A libtorrent seeder for bench/trace.ts, bound to one address (a veth address
inside a network namespace the bench created, or loopback).

usage: /usr/bin/python3 bench/trace_seed.py TORRENT DATA_DIR HOST PORT

Prints "ready PORT" once the data is checked and seeding (exits 2 if not
within 120 s), then seeds until stdin closes or it is killed. TCP only,
plaintext (the capture must be readable); DHT, LSD, UPnP, NAT-PMP off.
"""
import sys
import time
import select
import libtorrent as lt


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    torrent, save_path, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    settings = lt.high_performance_seed()
    settings.update({
        'listen_interfaces': '%s:%d' % (host, port),
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
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
    handle = ses.add_torrent(params)
    deadline = time.time() + 120
    while time.time() < deadline:
        if handle.status().is_seeding and ses.listen_port() > 0:
            break
        time.sleep(0.05)
    else:
        print('not seeding after 120 s: state %s' % handle.status().state, file=sys.stderr)
        return 2
    print('ready %d' % ses.listen_port(), flush=True)
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 1.0)
        if r and not sys.stdin.read(1):
            return 0


if __name__ == '__main__':
    sys.exit(main())
