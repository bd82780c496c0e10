"""What btscope's libtorrent helper scripts share (test/helpers/lt_*.py, bench/*.py).

A session that finds no peers by itself (DHT, LSD, UPnP, NAT-PMP off, no alerts),
adding a torrent from a file or a magnet link, waiting (bounded) until it seeds,
and serving until stdin closes. bench/*.py import it via sys.path.
"""
import select
import sys
import time
import libtorrent as lt


def arg(name, default=None):
    """The value after `name` on the command line, or `default`."""
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def make_session(listen, seed=False, utp=False, out_enc=lt.enc_policy.disabled, in_enc=lt.enc_policy.enabled, **more):
    """A session listening on `listen` ('HOST:PORT'; port 0 picks a free one).

    seed=True starts from lt.high_performance_seed(), else from libtorrent's
    defaults. uTP on only if `utp`. `more`: further settings, as libtorrent names them.
    """
    settings = lt.high_performance_seed() if seed else {}
    settings.update({
        'listen_interfaces': listen,
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_outgoing_utp': utp,
        'enable_incoming_utp': utp,
        'out_enc_policy': out_enc,
        'in_enc_policy': in_enc,
        'alert_mask': 0,
    })
    settings.update(more)
    return lt.session(settings)


def add_torrent(ses, source, save_path, trackers=True, flags=None):
    """Add a .torrent file or a magnet link; trackers=False clears the torrent's trackers."""
    if source.startswith('magnet:'):
        params = lt.parse_magnet_uri(source)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(source)
    params.save_path = save_path
    if not trackers:
        params.trackers = []
    if flags is not None:
        params.flags |= flags
    return ses.add_torrent(params)


def wait_seeding(ses, handle, seconds):
    """Wait until the data is checked, it seeds and it listens; print "ready PORT".

    False (with the state on stderr) if that takes more than `seconds`.
    """
    deadline = time.time() + seconds
    while time.time() < deadline:
        if handle.status().is_seeding and ses.listen_port() > 0:
            print('ready %d' % ses.listen_port(), flush=True)
            return True
        time.sleep(0.05)
    st = handle.status()
    print('not seeding after %d s: state %s, progress %.3f' % (seconds, st.state, st.progress), file=sys.stderr)
    return False


def serve_until_stdin_closes(every=1.0, tick=None):
    """Run (calling `tick` every `every` s, if given) until stdin reaches its end; returns 0."""
    while True:
        if tick:
            tick()
        r, _, _ = select.select([sys.stdin], [], [], every)
        if r and not sys.stdin.read(1):
            return 0
