import * as fs from 'node:fs';
import { BtscopeError } from '../core/errors.js';

/**
 * The resume journal: a small fixed-size file beside the download that records,
 * per piece, "a block of it was written" and "it passed its hash check". Each
 * change is one positional write of the byte that holds the bit (atomic on every
 * file system we target); a piece counts as verified (announced, counted) only
 * once its bit's write has returned, i.e. is in the OS's page cache, so
 * `kill -9` at any moment loses nothing verified. It is not fdatasync'd per
 * piece by default (`durable: true` does): with ext4's ordered mode each sync
 * also forces the torrent's dirty data out, which halved the download rate,
 * and it buys nothing here: on restart the pieces the journal names are hashed
 * again (quick, and honest: data lost by a power cut fails that check and is
 * fetched again).
 *
 * Layout (all big-endian):
 *   0  16  magic "btscope-resume\x00\x01"
 *  16  32  info-hash (v1 SHA-1 zero-padded, or v2 SHA-256)
 *  48   4  piece count
 *  52   4  piece length
 *  56   8  reserved (zero)
 *  64   B  verified bitfield (BEP 3 bit order), B = ceil(pieces / 8)
 *  64+B B  written bitfield
 */
export const RESUME_MAGIC = new TextEncoder().encode('btscope-resume\x00\x01');
export const RESUME_HEADER_LENGTH = 64;

export interface ResumeIdentity {
  infoHash: Uint8Array;
  pieceCount: number;
  pieceLength: number;
}

export interface ResumeState {
  /** Pieces the journal says passed their hash check. */
  verified: number[];
  /** Pieces with at least one block written but not (yet) verified. */
  written: number[];
  /** Why an existing journal was discarded (other torrent, truncated, not ours), if it was. */
  discarded?: string;
}

export class ResumeJournal {
  private readonly bytes: number;
  private readonly verifiedBits: Uint8Array;
  private readonly writtenBits: Uint8Array;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    readonly pieceCount: number,
    verified: Uint8Array,
    written: Uint8Array,
    private readonly durable: boolean,
  ) {
    this.bytes = Math.ceil(pieceCount / 8);
    this.verifiedBits = verified;
    this.writtenBits = written;
  }

  /** Open or create the journal for this torrent; a journal for anything else is replaced. */
  static async open(file: string, id: ResumeIdentity, opts: { durable?: boolean } = {}): Promise<{ journal: ResumeJournal; state: ResumeState }> {
    const bytes = Math.ceil(id.pieceCount / 8);
    const total = RESUME_HEADER_LENGTH + 2 * bytes;
    const header = makeHeader(id);
    let existing: Buffer | undefined;
    try {
      existing = await fs.promises.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new BtscopeError('resume_io', `cannot read ${file}: ${(e as Error).message}`);
    }
    let discarded: string | undefined;
    let verified = new Uint8Array(bytes);
    let written = new Uint8Array(bytes);
    if (existing) {
      if (existing.length !== total) discarded = `journal is ${existing.length} bytes, expected ${total}`;
      else if (!existing.subarray(0, RESUME_HEADER_LENGTH).equals(header)) discarded = 'journal belongs to another torrent (header differs)';
      else {
        verified = new Uint8Array(existing.subarray(RESUME_HEADER_LENGTH, RESUME_HEADER_LENGTH + bytes));
        written = new Uint8Array(existing.subarray(RESUME_HEADER_LENGTH + bytes, total));
      }
    }
    const fd = await new Promise<number>((res, rej) =>
      fs.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644, (e, fd) => (e ? rej(e) : res(fd))),
    ).catch((e: Error) => {
      throw new BtscopeError('resume_io', `cannot open ${file}: ${e.message}`);
    });
    if (!existing || discarded) {
      const init = Buffer.alloc(total);
      init.set(header, 0);
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, init, 0, total, 0);
      fs.fdatasyncSync(fd);
    }
    const journal = new ResumeJournal(file, fd, id.pieceCount, verified, written, opts.durable ?? false);
    const state: ResumeState = { verified: [], written: [] };
    for (let i = 0; i < id.pieceCount; i++) {
      const bit = 0x80 >> (i & 7);
      if (verified[i >> 3]! & bit) state.verified.push(i);
      else if (written[i >> 3]! & bit) state.written.push(i);
    }
    if (discarded) state.discarded = discarded;
    return { journal, state };
  }

  isVerified(index: number): boolean {
    return (this.verifiedBits[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  /** Note that a piece has data on disk; no sync (a lost bit only means that piece is fetched again). */
  markWritten(index: number): void {
    if (this.setBit(this.writtenBits, index)) this.enqueue(this.RESUME_WRITTEN_AT + (index >> 3), this.writtenBits[index >> 3]!, false);
  }

  /** Record a verified piece; resolves once the write has returned (and, when `durable`, is fdatasync'd). */
  markVerified(index: number): Promise<void> {
    if (!this.setBit(this.verifiedBits, index)) return this.chain;
    return this.enqueue(RESUME_HEADER_LENGTH + (index >> 3), this.verifiedBits[index >> 3]!, this.durable);
  }

  /** Forget a piece (it failed a re-check). */
  clear(index: number): Promise<void> {
    const bit = 0x80 >> (index & 7);
    this.verifiedBits[index >> 3]! &= ~bit;
    this.writtenBits[index >> 3]! &= ~bit;
    this.enqueue(RESUME_HEADER_LENGTH + (index >> 3), this.verifiedBits[index >> 3]!, false);
    return this.enqueue(this.RESUME_WRITTEN_AT + (index >> 3), this.writtenBits[index >> 3]!, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    await new Promise<void>((res) => fs.close(this.fd, () => res()));
  }

  private get RESUME_WRITTEN_AT(): number {
    return RESUME_HEADER_LENGTH + this.bytes;
  }

  private setBit(bits: Uint8Array, index: number): boolean {
    const bit = 0x80 >> (index & 7);
    if (bits[index >> 3]! & bit) return false;
    bits[index >> 3]! |= bit;
    return true;
  }

  /** Writes are serialised so a later byte value never lands before an earlier one. */
  private enqueue(position: number, value: number, sync: boolean): Promise<void> {
    if (this.closed) return Promise.resolve();
    const buf = Buffer.of(value);
    this.chain = this.chain.then(
      () =>
        new Promise<void>((res, rej) => {
          fs.write(this.fd, buf, 0, 1, position, (e) => {
            if (e) return rej(new BtscopeError('resume_io', `journal write failed: ${e.message}`));
            if (!sync) return res();
            fs.fdatasync(this.fd, (e2) => (e2 ? rej(new BtscopeError('resume_io', `journal sync failed: ${e2.message}`)) : res()));
          });
        }),
    );
    return this.chain;
  }
}

function makeHeader(id: ResumeIdentity): Buffer {
  const h = Buffer.alloc(RESUME_HEADER_LENGTH);
  h.set(RESUME_MAGIC, 0);
  h.set(id.infoHash.subarray(0, 32), 16);
  h.writeUInt32BE(id.pieceCount >>> 0, 48);
  h.writeUInt32BE(id.pieceLength >>> 0, 52);
  return h;
}

/** Where the journal for a torrent lives: a hidden file in the output folder, named by info-hash. */
export function resumeFileName(infoHashHex: string): string {
  return `.btscope-${infoHashHex}.resume`;
}
