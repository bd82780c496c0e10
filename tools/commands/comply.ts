import type { Argv } from 'yargs';
import { TransportError, UsageError } from '../../lib/core/errors.js';
import { toHex } from '../../lib/core/bytes.js';
import { readTorrent } from '../shared.js';
import { ALL_CHECKS } from '../../lib/compliance/checks/index.js';
import { evidenceFrame } from '../../lib/compliance/evidence.js';
import { reportJson } from '../../lib/compliance/report.js';
import { fixedGap, runCompliance } from '../../lib/compliance/runner.js';
import { MSE_CHECKS } from '../../lib/compliance/checks/mse.js';
import type { EncryptionPolicy } from '../../lib/mse/constants.js';
import { CANCEL_QUEUE_BYTES } from '../../lib/compliance/scenarios.js';
import type { ComplianceReport, CheckResultKind } from '../../lib/compliance/types.js';
import { palette, type Palette } from '../../lib/render/color.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { stringifyJson } from '../../lib/render/json.js';
import { EXIT } from '../exit-codes.js';
import { readInput } from '../input.js';
import { ioOf } from '../io.js';
import { renderTable } from '../table.js';
import { withFrames, withEncryption, withJson, withTimeout } from '../options.js';

export const command = 'comply [target] [peer]';
export const describe = 'Check a peer against the protocol: handshake, ordering, bitfield, requests, extensions, fast, BEP 52 hash requests; a verdict per BEP rule';

export function builder(y: Argv) {
  return withEncryption(withTimeout(withFrames(withJson(y)), 60), 'plaintext')
    .positional('target', { type: 'string', describe: 'The .torrent the peer seeds (its info-hash, pieces and info dict are what the peer is checked against)' })
    .positional('peer', { type: 'string', describe: 'HOST:PORT of the peer ([::1]:PORT for IPv6)' })
    .option('only', { type: 'string', array: true, describe: 'Run only this check id, or a family (fast, ut_metadata...); repeatable' })
    .option('list', { type: 'boolean', default: false, describe: 'List the checks (id, BEP, section, rule) and exit' })
    .option('settle', { type: 'number', default: 1.5, describe: 'Seconds to listen for what the peer sends unprompted after the handshake' })
    .option('answer', { type: 'number', default: 5, describe: 'Seconds to wait for each answer (handshake, unchoke, piece, reject)' })
    .option('gap', { type: 'number', default: 0, describe: 'Seconds to wait between connections, for peers that take one connection per IP at a time (transmission: about 3)' })
    .option('cancel-queue', { type: 'number', default: CANCEL_QUEUE_BYTES / 1048576, describe: 'MiB of requests the cancel probe queues ahead of the blocks it cancels; more than the peer can have in flight (socket buffers plus its send buffer), or an ignored cancel only warns' })
    .example('$0 comply demo.torrent 127.0.0.1:6881', 'run every check against a seeder')
    .example('$0 comply demo.torrent 127.0.0.1:6881 --only fast --frames', 'the fast-extension checks, with the frames each verdict rests on')
    .epilogue(
      'The checker connects as a well-behaved downloader, several times (one connection per probe that may end it), ' +
        'and judges only from the bytes it recorded. Results: pass, fail (a rule broken; the evidence says where), ' +
        'warn (allowed but suspect, or not provable), skip (with the reason). v1, v2-only and hybrid torrents: the handshake carries ' +
        'the v1 info-hash, or the v2 one truncated (BEP 52); the v2.* checks skip, without connecting, for a v1 torrent. ' +
        'Exit codes: 0 every check passed (or warned, or skipped); 1 a check failed; 2 usage; 3 TARGET undecodable; ' +
        '4 the peer cannot be reached, or closes every connection without a byte (it most likely does not serve the torrent).',
    );
}

interface Args {
  target?: string;
  peer?: string;
  encryption?: EncryptionPolicy;
  only?: string[];
  list: boolean;
  json: boolean;
  frames: boolean;
  timeout: number;
  settle: number;
  answer: number;
  gap?: number;
  cancelQueue?: number;
  io?: unknown;
}

export function parsePeer(s: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new UsageError(`peer must be HOST:PORT (or [IPv6]:PORT), got "${s}"`);
  return { host: m[1]!, port };
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  if (argv.list) {
    if (argv.json) io.out(stringifyJson([...ALL_CHECKS, ...MSE_CHECKS].map((c) => ({ id: c.id, bep: c.bep, section: c.section, title: c.title })), 2));
    else {
      const rows = [...ALL_CHECKS, ...MSE_CHECKS].map((c) => [c.id, c.bep || 'MSE', c.section, c.title]);
      io.out(renderTable({ head: tableHead(palette(io.color), ['check', 'BEP', 'section', 'rule']), wordWrap: true, colWidths: [36, 5, 18, 40], style: tableStyle() }, rows, io.columns));
    }
    return EXIT.ok;
  }
  if (!argv.target || !argv.peer) throw new UsageError('comply needs TARGET (a .torrent) and PEER (HOST:PORT); --list shows the checks');
  const { host, port } = parsePeer(argv.peer);
  const torrent = readTorrent(await readInput(argv.target), argv.target);
  const report = await runCompliance(torrent, {
    host,
    port,
    timeoutMs: argv.timeout * 1000,
    settleMs: argv.settle * 1000,
    answerMs: argv.answer * 1000,
    ...(argv.gap ? { betweenConnections: fixedGap(argv.gap * 1000) } : {}),
    ...(argv.cancelQueue !== undefined ? { cancelQueueBytes: Math.round(argv.cancelQueue * 1048576) } : {}),
    ...(argv.only ? { only: argv.only } : {}),
    ...(argv.encryption ? { encryption: argv.encryption } : {}),
    onProgress: io.errIsTTY ? (t) => io.err(`comply: ${t}…`) : undefined,
  });
  notServing(report, torrent);
  const failed = report.failed > 0 ? `${report.failed} of ${report.checks.length} checks failed: ${report.checks.filter((c) => c.result === 'fail').map((c) => c.id).join(', ')}` : undefined;
  if (argv.json) io.out(stringifyJson({ ok: !failed, ...(failed ? { error: failed } : {}), ...reportJson(report) }, 2));
  else io.out(renderReport(report, palette(io.color), argv.frames, torrent.pieceCount, io.columns));
  if (failed) io.err(`btscope: ${failed}`);
  return failed ? EXIT.failure : EXIT.ok;
}

/**
 * A peer that closed every connection without sending a byte, each time right after our
 * handshake: it most likely does not serve this info-hash (clients drop a handshake for a
 * torrent they do not have). That is one setup error, not a list of failed checks.
 */
function notServing(report: ComplianceReport, torrent: { infoHash: Uint8Array | null; infoHashV2: Uint8Array | null }): void {
  // Scenarios that never connected (the v2 ones for a v1 torrent) say nothing either way.
  const sessions = report.sessions.filter((s) => s.end !== undefined || s.handshake !== undefined || s.events.length > 0);
  const silent = (s: (typeof sessions)[number]): boolean => !s.handshake && s.end?.how === 'handshake_failed' && (s.badHandshake?.bytes.length ?? 0) === 0 && s.preHandshake.length === 0;
  if (sessions.length === 0 || !sessions.every(silent)) return;
  const hash = toHex(torrent.infoHash ?? torrent.infoHashV2!.subarray(0, 20));
  throw new TransportError(
    'not_serving',
    `${report.peer} closed ${sessions.length === 1 ? 'the connection' : `all ${sessions.length} connections`} without sending anything after our handshake: it most likely does not serve info-hash ${hash} (no check was judged)`,
  );
}

/**
 * cli-table3 colours its header red and its borders grey by default, and its
 * colour library decides on its own whether the terminal takes colour: we
 * turn that off and colour the header ourselves, only when stdout takes colour.
 */
export function tableStyle(): { head: string[]; border: string[] } {
  return { head: [], border: [] };
}

export function tableHead(p: Palette, names: string[]): string[] {
  return names.map((n) => p.heading(n));
}

const MARK: Record<CheckResultKind, (p: Palette, s: string) => string> = {
  pass: (p, s) => p.value(s),
  fail: (p, s) => p.error(s),
  warn: (p, s) => p.warn(s),
  skip: (p, s) => p.dim(s),
};

/** `columns`: the TTY's width to fit (tools/io.ts), undefined when piped. */
export function renderReport(report: ComplianceReport, p: Palette, frames: boolean, pieceCount?: number, columns?: number): string {
  const rows = report.checks.map((c) => [c.id, c.bep ? String(c.bep) : 'MSE', MARK[c.result](p, c.result), c.detail]);
  const t = renderTable({ head: tableHead(p, ['check', 'BEP', 'result', 'evidence']), wordWrap: true, colWidths: [36, 5, 8, 50], style: tableStyle() }, rows, columns);
  const out = [`btscope comply ${report.peer}`, t];
  out.push(`${report.passed} passed, ${report.failed} failed, ${report.warned} warned, ${report.skipped} skipped`);
  if (frames) {
    for (const c of report.checks) {
      if (!c.evidence || c.evidence.length === 0) continue;
      out.push('', p.heading(`── ${c.id}: ${c.result} ──`));
      for (const ref of c.evidence) {
        const f = evidenceFrame(report.sessions, ref, pieceCount);
        if (f) out.push(renderHexFrame(f, { color: p !== palette(false), ...(columns !== undefined ? { width: columns, fit: true } : {}) }));
      }
    }
  }
  return out.join('\n');
}
