import { describe, expect, it } from 'vitest';
import { decodePeerId } from '../../lib/wire/peer-id.js';
import { ascii } from './vectors.js';

describe('peer id conventions (BEP 20)', () => {
  it.each([
    ['-qB4520-abcdefghijkl', 'qBittorrent', '4.5.2.0', 'azureus'],
    ['-TR3000-abcdefghijkl', 'Transmission', '3.00', 'azureus'],
    ['-TR294Z-abcdefghijkl', 'Transmission', '2.94+', 'azureus'],
    ['-LT2080-abcdefghijkl', 'libtorrent (Rasterbar)', '2.0.8.0', 'azureus'],
    ['-lt0D80-abcdefghijkl', 'libTorrent (rakshasa)', '0.13.8.0', 'azureus'],
    ['-UT3550-abcdefghijkl', 'µTorrent', '3.5.5', 'azureus'],
    ['-DE13F0-abcdefghijkl', 'Deluge', '1.3.15.0', 'azureus'],
    ['M7-1-2--abcdefghijkl', 'BitTorrent (Mainline)', '7.1.2', 'mainline'],
    ['M4-20-8-abcdefghijkl', 'BitTorrent (Mainline)', '4.20.8', 'mainline'],
    ['S58B-----abcdefghijk', 'Shadow', '5.8.11', 'shadow'],
    // BEP 20: the three chars after the version are "commonly '---', but not always".
    ['T03I--00abcdefghijkl', 'BitTornado', '0.3.18', 'shadow'],
    ['T03I0000abcdefghijkl', 'unknown', undefined, 'unknown'],
    ['A310--001v5Gysr4NxNK', 'ABC', '3.1.0', 'shadow'],
    ['R34-----abcdefghijkl', 'Tribler', '3.4', 'shadow'],
    ['O0680---abcdefghijkl', 'Osprey Permaseed', '0.6.8.0', 'shadow'],
    ['Q1-10-0-abcdefghijkl', 'Queen Bee', '1.10.0', 'mainline'],
    ['-AZ2060-abcdefghijkl', 'Azureus/Vuze', '2.0.6.0', 'azureus'],
    ['-A~0C40-abcdefghijkl', 'Ares', '0.12.4.0', 'azureus'],
    ['-FW0001-abcdefghijkl', 'FrostWire', '0.0.0.1', 'azureus'],
    ['-BOWA0C-abcdefghijkl', 'Bits on Wheels', 'A0C', 'other'],
    ['AZ2500BTabcdefghijkl', 'BitTyrant (Azureus mod)', '2.5.0.0', 'other'],
    ['XBT054d-abcdefghijkl', 'XBT Client', '0.5.4', 'other'],
    ['OP7685abcdefghijklmn', 'Opera', '7685', 'other'],
    ['-ML2.7.2-kgjjfkd1234', 'MLdonkey', '2.7.2', 'other'],
    ['\x00\x03BS' + 'abcdefghijklmnop', 'BitSpirit', 'v3', 'other'],
    ['T03I-----abcdefghijk', 'BitTornado', '0.3.18', 'shadow'],
    ['A2-1-36-0-abcdefghij', 'aria2', '1.36.0', 'other'],
    ['exbc\x00\x3cabcdefghijklmn', 'BitComet', '0.60', 'other'],
    ['-ZZ1000-abcdefghijkl', 'unknown Azureus-style client "ZZ"', '1.0.0.0', 'azureus'],
    ['\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13', 'unknown', undefined, 'unknown'],
  ])('%j -> %s %s', (id, client, version, style) => {
    const info = decodePeerId(ascii(id).length === 20 ? ascii(id) : Uint8Array.from(id, (c) => c.charCodeAt(0)));
    expect(info.client).toBe(client);
    expect(info.version).toBe(version);
    expect(info.style).toBe(style);
  });

  it('a peer id of the wrong size is unknown, not a crash', () => {
    expect(decodePeerId(new Uint8Array(3)).style).toBe('unknown');
  });
});
