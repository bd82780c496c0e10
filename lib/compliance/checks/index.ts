import type { Message } from '../../wire/messages.js';
import type { CheckDef } from '../types.js';
import { HANDSHAKE_CHECKS } from './handshake.js';
import { ORDERING_CHECKS } from './ordering.js';
import { BITFIELD_CHECKS } from './bitfield.js';
import { REQUEST_CHECKS } from './requests.js';
import { LIVENESS_CHECKS } from './liveness.js';
import { EXTENDED_CHECKS } from './extended.js';
import { UT_METADATA_CHECKS } from './ut-metadata.js';
import { UT_PEX_CHECKS } from './ut-pex.js';
import { FAST_CHECKS } from './fast.js';
import { V2_CHECKS } from './v2.js';

/** Every check, in the order the table shows them. Adding a check is one row in its family's table. */
export const ALL_CHECKS: readonly CheckDef<Message>[] = [
  ...HANDSHAKE_CHECKS,
  ...ORDERING_CHECKS,
  ...BITFIELD_CHECKS,
  ...REQUEST_CHECKS,
  ...LIVENESS_CHECKS,
  ...EXTENDED_CHECKS,
  ...UT_METADATA_CHECKS,
  ...UT_PEX_CHECKS,
  ...FAST_CHECKS,
  ...V2_CHECKS,
];
