import { CRYPTO_NAMES, CRYPTO_RC4 } from '../../mse/constants.js';
import type { MseFacts } from '../mse-scenarios.js';
import type { CheckDef, CheckOutcome, EvalContext } from '../types.js';

/**
 * MSE/PE (the Vuze spec; no BEP: `bep` 0), run when comply is asked to speak
 * it (`--encryption prefer|require`). The verdicts rest on what our own MSE
 * state machine made of the peer's bytes (lib/mse/handshake.ts).
 */
const factsOf = (ctx: EvalContext, name: 'mse' | 'mse_wrong_skey'): MseFacts | undefined => ctx.session(name)?.facts['mse'] as MseFacts | undefined;

/** The peer does not speak MSE at all: nothing to hold it to. */
function unsupported(f: MseFacts | undefined): CheckOutcome | undefined {
  if (!f) return { result: 'skip', detail: 'no MSE probe ran' };
  if (f.received === 0) return { result: 'skip', detail: `the peer does not speak MSE (${f.ended === 'closed' ? 'it closed the connection' : 'no answer'} to Ya)` };
  return undefined;
}

export const MSE_CHECKS: readonly CheckDef[] = [
  {
    id: 'mse.handshake',
    bep: 0,
    section: 'MSE/PE: steps 2 and 4',
    title: 'the peer answers Ya with a valid Yb, PadB within 512 bytes, and ENCRYPT(VC) where the spec allows',
    scenarios: ['mse'],
    evaluate(ctx) {
      const f = factsOf(ctx, 'mse');
      const no = unsupported(f);
      if (no) return no;
      if (f!.error) return { result: 'fail', detail: `${f!.error.step}: ${f!.error.message} (${f!.error.code} at byte ${f!.error.offset})` };
      if (!f!.done) return { result: 'fail', detail: `the exchange stopped after ${f!.received} bytes (${f!.ended ?? 'no step 4'})` };
      return { result: 'pass', detail: `done in ${f!.ms} ms, PadB ${f!.padB ?? 0} bytes` };
    },
  },
  {
    id: 'mse.select',
    bep: 0,
    section: 'MSE/PE: crypto_select',
    title: 'crypto_select is one of the methods offered (we offer RC4 only)',
    scenarios: ['mse'],
    evaluate(ctx) {
      const f = factsOf(ctx, 'mse');
      const no = unsupported(f);
      if (no) return no;
      if (f!.error?.code === 'mse_bad_select') return { result: 'fail', detail: f!.error.message };
      if (f!.select === undefined) return { result: 'skip', detail: 'no crypto_select came (see mse.handshake)' };
      return f!.select === CRYPTO_RC4 ? { result: 'pass', detail: 'RC4 selected' } : { result: 'fail', detail: `selected ${CRYPTO_NAMES[f!.select] ?? f!.select}` };
    },
  },
  {
    id: 'mse.wrong_skey',
    bep: 0,
    section: 'MSE/PE: step 3, SKEY',
    title: 'an SKEY hash for a torrent the peer does not serve is refused: no step 4',
    scenarios: ['mse_wrong_skey'],
    evaluate(ctx) {
      const f = factsOf(ctx, 'mse_wrong_skey');
      const no = unsupported(f);
      if (no) return no;
      if (f!.done) return { result: 'fail', detail: `the peer answered step 4 (crypto_select ${CRYPTO_NAMES[f!.select ?? 0] ?? f!.select}) for an SKEY it cannot know` };
      if (f!.ended === 'closed') return { result: 'pass', detail: `closed ${f!.ms} ms after our step 3` };
      return { result: 'pass', detail: `no step 4 within ${f!.ms} ms (the connection left open)` };
    },
  },
  {
    id: 'mse.rc4_stream',
    bep: 0,
    section: 'MSE/PE: after crypto_select',
    title: 'once RC4 is selected the peer\'s stream is RC4 too: its handshake decrypts, nothing comes in clear',
    scenarios: ['mse'],
    evaluate(ctx) {
      const f = factsOf(ctx, 'mse');
      const no = unsupported(f);
      if (no) return no;
      if (f!.select !== CRYPTO_RC4) return { result: 'skip', detail: 'RC4 was not selected' };
      if (f!.stream === 'encrypted') return { result: 'pass', detail: 'its BitTorrent handshake came encrypted' };
      if (f!.stream === 'plaintext') return { result: 'fail', detail: 'its BitTorrent handshake came in plaintext after it selected RC4' };
      if (f!.stream === 'other') return { result: 'fail', detail: 'its stream after crypto_select does not decrypt to a BitTorrent handshake' };
      return { result: 'skip', detail: 'nothing came after crypto_select' };
    },
  },
];
