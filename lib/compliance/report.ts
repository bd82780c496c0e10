import type { ComplianceReport } from './types.js';

/** The `--json` shape the issue fixes: `{checks: [{id, bep, result, detail}], passed, failed}` plus counts and context. */
export function reportJson(report: ComplianceReport): Record<string, unknown> {
  return {
    peer: report.peer,
    checks: report.checks.map((c) => ({
      id: c.id,
      bep: c.bep,
      section: c.section,
      result: c.result,
      detail: c.detail,
      evidence: (c.evidence ?? []).map((e) => ('seq' in e ? { scenario: e.scenario, seq: e.seq } : { scenario: e.scenario, handshake: true })),
    })),
    passed: report.passed,
    failed: report.failed,
    warned: report.warned,
    skipped: report.skipped,
    sessions: report.sessions.map((s) => ({
      scenario: s.scenario,
      frames: s.events.length,
      end: s.end ? { how: s.end.how, at: s.end.at, ...(s.end.code ? { code: s.end.code, offset: s.end.offset } : {}) } : null,
      notes: s.notes,
    })),
  };
}
