// Before the tests: say loudly which real peers are missing (their interop tests
// will be skipped); under BTSCOPE_REQUIRE_PEERS=1 a missing peer fails the run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const bins = ['opentracker', 'aria2c', 'transmission-cli', 'transmission-create', 'transmission-show', 'transmission-daemon', 'mktorrent', 'tshark', 'tcpdump', 'rtorrent', 'qbittorrent-nox'];
const onPath = (b) => (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin']).some((d) => d && existsSync(`${d}/${b}`));
const missing = bins.filter((b) => !onPath(b));
try {
  execFileSync('/usr/bin/python3', ['-c', 'import libtorrent'], { stdio: 'ignore', timeout: 20000 });
} catch {
  missing.push('python3-libtorrent');
}
if (missing.length > 0) {
  const line = '*'.repeat(78);
  console.error(`${line}\n* Real peers missing: ${missing.join(', ')}\n* Their interop tests will be SKIPPED. bash .ci/run installs them (apt-get).\n${line}`);
  if (process.env.BTSCOPE_REQUIRE_PEERS === '1') {
    console.error('BTSCOPE_REQUIRE_PEERS=1: a missing real peer is a failure.');
    process.exit(1);
  }
} else {
  console.error(`real peers: all present (${bins.join(', ')}, python3-libtorrent)`);
}
