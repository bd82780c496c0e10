#!/usr/bin/python3
"""Load torrents in libtorrent and check their data, for btscope's tests.

usage: /usr/bin/python3 test/helpers/lt_check.py SAVE_PATH TORRENT...

Each torrent is read by torrent_info (info-hashes, piece count, files, and the
v2 pieces roots and piece layers libtorrent sees), then added to one session
(no DHT/LSD/UPnP/NAT-PMP, listening on 127.0.0.1 only) with its data in
SAVE_PATH, and checked: libtorrent hashes the files itself, and a torrent whose
data matches ends seeding at 100 %. Bounded: 60 s. Prints one JSON object,
keyed by torrent path.
"""
import json
import sys
import time
import libtorrent as lt
from lt_common import make_session

save, paths = sys.argv[1], sys.argv[2:]
ses = make_session('127.0.0.1:0')
out, handles = {}, {}
for p in paths:
    ti = lt.torrent_info(p)
    ih = ti.info_hashes()
    fs = ti.files()
    files = []
    for i in range(fs.num_files()):
        root = fs.root(i)
        files.append({
            'path': fs.file_path(i).replace('\\', '/'),
            'size': fs.file_size(i),
            'pad': bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
            'root': None if root.is_all_zeros() else str(root),
        })
    out[p] = {
        'v1': str(ih.v1) if ih.has_v1() else None,
        'v2': str(ih.v2) if ih.has_v2() else None,
        'pieces': ti.num_pieces(),
        'pieceLength': ti.piece_length(),
        'files': files,
    }
    handles[p] = ses.add_torrent({'ti': ti, 'save_path': save})

deadline = time.time() + 60
while time.time() < deadline:
    st = {p: h.status() for p, h in handles.items()}
    if not any(s.state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data) for s in st.values()):
        break
    time.sleep(0.1)
for p, h in handles.items():
    s = h.status()
    out[p].update({'progress': s.progress, 'seeding': s.is_seeding, 'state': str(s.state), 'have': s.num_pieces})
print(json.dumps(out))
