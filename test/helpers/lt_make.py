#!/usr/bin/python3
"""Make a .torrent with libtorrent, for btscope's tests.

usage: /usr/bin/python3 test/helpers/lt_make.py SOURCE OUT.torrent PIECE_LENGTH v1|v2|hybrid

SOURCE is a file or folder; the torrent's name is its base name. Prints the
info-hashes as JSON: {"v1": hex or null, "v2": hex or null}.
"""
import json
import os
import sys
import libtorrent as lt

src, out, piece, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, src)
flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[mode]
ct = lt.create_torrent(fs, piece, flags=flags)
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(src)))
open(out, 'wb').write(lt.bencode(ct.generate()))
ih = lt.torrent_info(out).info_hashes()
print(json.dumps({'v1': str(ih.v1) if ih.has_v1() else None, 'v2': str(ih.v2) if ih.has_v2() else None}))
